/**
 * Upstream calls of the provider mirror: service discovery, the registry's `versions` and
 * `download` documents, and the checksum files. Every call goes through the propagated
 * {@linkcode UpstreamFetch} of the request that started the fill.
 *
 * Error mapping (what the caching core turns into responses):
 * - the registry says "no such provider / version / platform" (404) → `HttpError` 404;
 * - other upstream statuses → `UpstreamStatusError` (replayed; stale-if-error applies);
 * - unreachable upstream, timeouts and malformed answers → `UpstreamError` (502; stale-if-error).
 *
 * @module
 */

import { BodyTooLargeError, readBounded } from "../_shared/bytes.ts";
import { HttpError, UpstreamError, UpstreamStatusError } from "../proxy/errors.ts";
import type { RouteContext } from "../proxy/route.ts";
import {
  DiscoveryDocumentError,
  HostUnreachableError,
  ServiceNotOfferedError,
} from "../registry/errors.ts";
import type { PackageCoords, ProviderCoords } from "./provider_paths.ts";

/** Largest JSON document accepted from the registry (1 MiB, as terraform). */
export const MAX_REGISTRY_JSON_BYTES = 1024 * 1024;
/** Largest SHA256SUMS or signature file accepted (4 MiB). */
export const MAX_CHECKSUM_FILE_BYTES = 4 * 1024 * 1024;

/** What the mirror needs from service discovery (`ServiceDiscovery` satisfies it). */
export interface ProviderServiceDiscovery {
  /** The `providers.v1` base URL of a host, ending in `/`. */
  providersUrl(host: string, options?: { signal?: AbortSignal }): Promise<URL>;
}

/** A signing key offered by the registry for a package (the registry's JSON field names). */
export interface RegistryGpgKey {
  /** Key id as the registry gives it. */
  readonly key_id?: string;
  /** ASCII-armored public key. */
  readonly ascii_armor: string;
  /** Partner trust signature, when any. */
  readonly trust_signature?: string;
}

/**
 * A validated `download` document. `raw` is the upstream JSON object with the three URL fields
 * made absolute; it is what the cache stores, byte for byte as `JSON.stringify(raw)`.
 */
export interface DownloadDoc {
  /** The upstream object (all other fields untouched), URLs absolute. */
  readonly raw: Readonly<Record<string, unknown>>;
  /** Registry file name of the package (the SHA256SUMS entry name). */
  readonly filename: string;
  /** Absolute package URL. */
  readonly downloadUrl: string;
  /** Lower-case hex SHA-256 of the package. */
  readonly shasum: string;
  /** Absolute SHA256SUMS URL. */
  readonly shasumsUrl: string;
  /** Absolute SHA256SUMS.sig URL. */
  readonly shasumsSignatureUrl: string;
  /** Keys that may have signed SHA256SUMS. */
  readonly signingKeys: readonly RegistryGpgKey[];
}

/** A validated `versions` document. */
export interface VersionsDoc {
  /** Every listed version with its platforms (as listed; unvalidated names are kept). */
  readonly versions: readonly {
    readonly version: string;
    readonly platforms: readonly { readonly os: string; readonly arch: string }[];
  }[];
}

/**
 * Display form of a provider for messages: `host/namespace/type`.
 *
 * @param c Provider coordinates.
 * @returns e.g. `registry.terraform.io/hashicorp/aws`.
 */
export function providerLabel(c: ProviderCoords): string {
  return `${c.host}/${c.namespace}/${c.type}`;
}

/**
 * Finds the `providers.v1` base URL of a host, mapping discovery failures to proxy errors.
 *
 * @param discovery Service discovery.
 * @param c The provider whose host to look up.
 * @param signal Aborts the lookup.
 * @returns The base URL, ending in `/`.
 * @throws {HttpError} 404 when the host offers no provider registry.
 * @throws {UpstreamError} when the host is unreachable or its discovery document is unusable.
 */
export async function providersBaseUrl(
  discovery: ProviderServiceDiscovery,
  c: ProviderCoords,
  signal: AbortSignal,
): Promise<URL> {
  try {
    return await discovery.providersUrl(c.host, { signal });
  } catch (error) {
    if (error instanceof ServiceNotOfferedError) {
      throw new HttpError(
        404,
        `Host "${c.host}" does not offer a provider registry (providers.v1)`,
        {
          cause: error,
        },
      );
    }
    if (error instanceof HostUnreachableError || error instanceof DiscoveryDocumentError) {
      throw new UpstreamError(error.url, error.message, { cause: error });
    }
    if (error instanceof UpstreamError || error instanceof HttpError) throw error;
    if (signal.aborted) throw error;
    const url = `https://${c.host}/.well-known/terraform.json`;
    throw new UpstreamError(url, `service discovery failed: ${messageOf(error)}`, {
      cause: error,
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Reads a response body up to `limit` bytes; cancels the body and throws beyond it.
 *
 * @param response The response; its body is consumed or cancelled.
 * @param limit Maximum size in bytes.
 * @param url The URL, for messages.
 * @returns The body.
 * @throws {UpstreamError} when the body is too large or breaks off.
 */
export async function readLimited(
  response: Response,
  limit: number,
  url: string,
): Promise<Uint8Array> {
  try {
    return await readBounded(response, limit);
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      throw new UpstreamError(url, `response is larger than ${limit} bytes`);
    }
    throw new UpstreamError(url, `response body broke off: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * Performs one upstream GET through the propagated fetch. Transport failures become
 * {@linkcode UpstreamError}.
 *
 * @param ctx Route context (its `fetch` and `signal` are used).
 * @param url Absolute URL.
 * @param purpose `metadata` for small documents, `artifact` for packages.
 * @param accept Accept header, when any.
 * @returns The response (any status).
 */
export async function upstreamGet(
  ctx: RouteContext,
  url: string,
  purpose: "metadata" | "artifact",
  accept?: string,
): Promise<Response> {
  try {
    return await ctx.fetch(url, {
      purpose,
      signal: ctx.signal,
      ...(accept === undefined ? {} : { headers: { accept } }),
    });
  } catch (error) {
    if (error instanceof UpstreamError || error instanceof HttpError) throw error;
    if (ctx.signal.aborted) throw error;
    throw new UpstreamError(url, messageOf(error), { cause: error });
  }
}

/**
 * Throws the proxy error for a non-2xx upstream answer (after reading a bounded body).
 *
 * @param response The non-2xx response.
 * @param url The URL, for messages.
 * @throws {UpstreamStatusError} always.
 */
export async function throwStatus(response: Response, url: string): Promise<never> {
  let body: Uint8Array = new Uint8Array(0);
  try {
    body = await readLimited(response, 64 * 1024, url);
  } catch {
    // The status is what matters; an unreadable error body is dropped.
  }
  throw new UpstreamStatusError(response.status, url, response.headers, body);
}

/** Upstream JSON answer: 404 is reported to the caller, anything else non-2xx throws. */
type JsonAnswer =
  | { readonly status: 404; readonly url: URL }
  | { readonly status: 200; readonly url: URL; readonly bytes: Uint8Array; readonly body: unknown };

async function getJson(ctx: RouteContext, url: URL): Promise<JsonAnswer> {
  const response = await upstreamGet(ctx, url.href, "metadata", "application/json");
  let finalUrl = url;
  if (response.url !== "") {
    try {
      finalUrl = new URL(response.url);
    } catch {
      // Keep the request URL.
    }
  }
  if (response.status === 404) {
    await response.body?.cancel().catch(() => {});
    return { status: 404, url: finalUrl };
  }
  if (response.status < 200 || response.status > 299) await throwStatus(response, url.href);
  const bytes = await readLimited(response, MAX_REGISTRY_JSON_BYTES, url.href);
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new UpstreamError(url.href, "registry answer is not valid JSON", { cause });
  }
  return { status: 200, url: finalUrl, bytes, body };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(url: string, problem: string): UpstreamError {
  return new UpstreamError(url, `invalid registry answer: ${problem}`);
}

/**
 * Validates a `versions` document.
 *
 * @param body Parsed JSON.
 * @param url Where it came from, for messages.
 * @returns The versions and their platforms.
 * @throws {UpstreamError} when the document does not have the registry's shape.
 */
export function parseVersionsDoc(body: unknown, url: string): VersionsDoc {
  if (!isObject(body)) throw invalid(url, "body is not a JSON object");
  const list = body["versions"];
  if (!Array.isArray(list)) throw invalid(url, `field "versions" must be an array`);
  const versions = list.map((entry, i) => {
    if (!isObject(entry) || typeof entry["version"] !== "string") {
      throw invalid(url, `field "versions[${i}].version" must be a string`);
    }
    const rawPlatforms = entry["platforms"];
    const platforms: { os: string; arch: string }[] = [];
    if (rawPlatforms !== undefined && rawPlatforms !== null) {
      if (!Array.isArray(rawPlatforms)) {
        throw invalid(url, `field "versions[${i}].platforms" must be an array`);
      }
      for (const [j, p] of rawPlatforms.entries()) {
        if (!isObject(p) || typeof p["os"] !== "string" || typeof p["arch"] !== "string") {
          throw invalid(url, `field "versions[${i}].platforms[${j}]" must have string os and arch`);
        }
        platforms.push({ os: p["os"], arch: p["arch"] });
      }
    }
    return { version: entry["version"], platforms };
  });
  return { versions };
}

/**
 * Fetches a provider's `versions` document.
 *
 * @param ctx Route context.
 * @param discovery Service discovery.
 * @param c The provider.
 * @returns The upstream bytes (valid JSON) and the parsed document.
 * @throws {HttpError} 404 when the registry does not know the provider.
 */
export async function fetchVersions(
  ctx: RouteContext,
  discovery: ProviderServiceDiscovery,
  c: ProviderCoords,
): Promise<{ bytes: Uint8Array; doc: VersionsDoc }> {
  const base = await providersBaseUrl(discovery, c, ctx.signal);
  const url = new URL(`${enc(c.namespace)}/${enc(c.type)}/versions`, base);
  const got = await getJson(ctx, url);
  if (got.status === 404) {
    throw new HttpError(
      404,
      `Provider registry has no provider "${providerLabel(c)}" (${url.href})`,
    );
  }
  return { bytes: got.bytes, doc: parseVersionsDoc(got.body, got.url.href) };
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function absoluteUrl(raw: unknown, base: URL, url: string, field: string): string {
  if (typeof raw !== "string" || raw === "") throw invalid(url, `field "${field}" is missing`);
  let resolved: URL;
  try {
    resolved = new URL(raw, base);
  } catch {
    throw invalid(url, `field "${field}" is not a valid URL: "${raw}"`);
  }
  if (resolved.protocol !== "https:" && resolved.protocol !== "http:") {
    throw invalid(url, `field "${field}" must use http or https: "${raw}"`);
  }
  if (resolved.username !== "" || resolved.password !== "") {
    throw invalid(url, `field "${field}" must not contain credentials`);
  }
  return resolved.href;
}

/**
 * Validates a `download` document and resolves its URLs against `endpoint` (the final URL of the
 * download request), as terraform's registry client does.
 *
 * @param body Parsed JSON (the upstream answer, or the cached normalised document).
 * @param endpoint URL to resolve relative URLs against.
 * @param c The package that was asked for (os/arch echoes must match).
 * @returns The validated document; `raw` carries absolute URLs.
 * @throws {UpstreamError} when the document is malformed.
 */
export function parseDownloadDoc(body: unknown, endpoint: URL, c: PackageCoords): DownloadDoc {
  const url = endpoint.href;
  if (!isObject(body)) throw invalid(url, "body is not a JSON object");
  for (const field of ["os", "arch"] as const) {
    const echoed = body[field];
    if (echoed !== undefined && echoed !== null && echoed !== "" && echoed !== c[field]) {
      throw invalid(
        url,
        `field "${field}" is "${String(echoed)}" but "${c.os}_${c.arch}" was requested`,
      );
    }
  }
  const filename = body["filename"];
  if (
    typeof filename !== "string" || filename === "" || filename.includes("/") ||
    filename.includes("\\")
  ) {
    throw invalid(url, `field "filename" must be a plain file name`);
  }
  const shasum = body["shasum"];
  if (typeof shasum !== "string" || !/^[0-9a-fA-F]{64}$/.test(shasum)) {
    throw invalid(url, `field "shasum" must be 64 hex digits`);
  }
  const downloadUrl = absoluteUrl(body["download_url"], endpoint, url, "download_url");
  const shasumsUrl = absoluteUrl(body["shasums_url"], endpoint, url, "shasums_url");
  const shasumsSignatureUrl = absoluteUrl(
    body["shasums_signature_url"],
    endpoint,
    url,
    "shasums_signature_url",
  );
  const signingKeys: RegistryGpgKey[] = [];
  const keysObj = body["signing_keys"];
  if (isObject(keysObj) && Array.isArray(keysObj["gpg_public_keys"])) {
    for (const [i, k] of keysObj["gpg_public_keys"].entries()) {
      if (!isObject(k) || typeof k["ascii_armor"] !== "string" || k["ascii_armor"] === "") {
        throw invalid(url, `field "signing_keys.gpg_public_keys[${i}].ascii_armor" is missing`);
      }
      signingKeys.push({
        ascii_armor: k["ascii_armor"],
        ...(typeof k["key_id"] === "string" ? { key_id: k["key_id"] } : {}),
        ...(typeof k["trust_signature"] === "string" && k["trust_signature"] !== ""
          ? { trust_signature: k["trust_signature"] }
          : {}),
      });
    }
  }
  return {
    raw: {
      ...body,
      download_url: downloadUrl,
      shasums_url: shasumsUrl,
      shasums_signature_url: shasumsSignatureUrl,
    },
    filename,
    downloadUrl,
    shasum: shasum.toLowerCase(),
    shasumsUrl,
    shasumsSignatureUrl,
    signingKeys,
  };
}

/**
 * Fetches one package's `download` document from the registry.
 *
 * @param ctx Route context.
 * @param discovery Service discovery.
 * @param c The package.
 * @returns The validated document with absolute URLs.
 * @throws {HttpError} 404 when the registry has no such provider, version or platform.
 */
export async function fetchDownload(
  ctx: RouteContext,
  discovery: ProviderServiceDiscovery,
  c: PackageCoords,
): Promise<DownloadDoc> {
  const base = await providersBaseUrl(discovery, c, ctx.signal);
  const url = new URL(
    `${enc(c.namespace)}/${enc(c.type)}/${enc(c.version)}/download/${enc(c.os)}/${enc(c.arch)}`,
    base,
  );
  const got = await getJson(ctx, url);
  if (got.status === 404) {
    throw new HttpError(
      404,
      `Provider registry has no package of "${
        providerLabel(c)
      }" ${c.version} for ${c.os}_${c.arch} (${url.href})`,
    );
  }
  return parseDownloadDoc(got.body, got.url, c);
}

/**
 * Fetches a small file (SHA256SUMS or its signature) from an absolute upstream URL.
 *
 * @param ctx Route context.
 * @param url Absolute URL recorded in a download document.
 * @returns The bytes.
 * @throws {UpstreamStatusError} for a non-2xx answer.
 * @throws {UpstreamError} when unreachable or too large.
 */
export async function fetchSmallFile(ctx: RouteContext, url: string): Promise<Uint8Array> {
  const response = await upstreamGet(ctx, url, "metadata");
  if (response.status < 200 || response.status > 299) await throwStatus(response, url);
  return await readLimited(response, MAX_CHECKSUM_FILE_BYTES, url);
}

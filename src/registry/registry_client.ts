/**
 * Client for the provider registry protocol (`providers.v1`):
 * `GET <base><ns>/<type>/versions` and `GET <base><ns>/<type>/<version>/download/<os>/<arch>`.
 *
 * Unlike the Atmos proxy this client resolves a relative `download_url` (and the two SHA256SUMS
 * URLs) against the download endpoint's final URL, as terraform does, and keeps the signing
 * keys so the package can be authenticated (see `provider_package.ts`).
 *
 * @module
 */

import { BodyTooLargeError } from "../_shared/bytes.ts";
import { effectiveUrl, MAX_JSON_BYTES, readJsonBody, withTimeout } from "./_http.ts";
import {
  PlatformNotAvailableError,
  ProviderNotFoundError,
  RegistryNotFoundError,
  RegistryResponseError,
  RegistryStatusError,
  RegistryUnreachableError,
  VersionNotFoundError,
} from "./errors.ts";
import type { FetchLike } from "./fetch_like.ts";
import type { Platform } from "./platform.ts";
import { platformString } from "./platform.ts";
import type { ProviderAddress } from "./provider_address.ts";
import { providerAddressString } from "./provider_address.ts";
import type { ServiceDiscovery } from "./service_discovery.ts";

/** One entry of the `versions` answer. */
export interface ProviderVersion {
  /** Version string exactly as the registry gave it, e.g. `5.31.0`. */
  readonly version: string;
  /** Plugin protocol versions, e.g. `["5.0"]` (empty when the registry omits them). */
  readonly protocols: readonly string[];
  /** Platforms with a package (empty when the registry omits them). */
  readonly platforms: readonly Platform[];
}

/** The whole `versions` answer. */
export interface ProviderVersionList {
  /** Every version, in the registry's order. */
  readonly versions: readonly ProviderVersion[];
  /** Registry warnings to show to the user (e.g. deprecation notices). */
  readonly warnings: readonly string[];
}

/** One OpenPGP public key offered by the registry for a package. */
export interface GpgPublicKey {
  /** Key id as the registry gives it (long id or fingerprint, hex). */
  readonly keyId: string;
  /** ASCII-armored public key. */
  readonly asciiArmor: string;
  /** ASCII-armored detached signature of the key by HashiCorp's partners key (partner providers). */
  readonly trustSignature?: string;
  /** Human-readable name of the key's owner. */
  readonly source?: string;
  /** URL about the key's owner. */
  readonly sourceUrl?: string;
}

/** The `signing_keys` object of a download answer. */
export interface SigningKeys {
  /** The offered keys, possibly empty. */
  readonly gpgPublicKeys: readonly GpgPublicKey[];
}

/** The `download` answer with every URL made absolute. */
export interface ProviderDownload {
  /** Package file name, e.g. `terraform-provider-aws_5.31.0_linux_amd64.zip`. */
  readonly filename: string;
  /** Absolute package URL (a relative `download_url` is resolved against the endpoint URL). */
  readonly downloadUrl: string;
  /** Lower-case hex SHA-256 of the package zip. */
  readonly shasum: string;
  /** Absolute SHA256SUMS URL, when the registry gives one. */
  readonly shasumsUrl: string | undefined;
  /** Absolute URL of the detached signature of SHA256SUMS, when the registry gives one. */
  readonly shasumsSignatureUrl: string | undefined;
  /** Keys that may have signed SHA256SUMS. */
  readonly signingKeys: SigningKeys;
  /** Plugin protocol versions of this package. */
  readonly protocols: readonly string[];
  /** The platform the package is for (echoed by the registry, checked against the request). */
  readonly platform: Platform;
}

/** Options for {@linkcode ProviderRegistryClient}. */
export interface ProviderRegistryClientOptions {
  /** The injected HTTP function. */
  fetch: FetchLike;
  /** Finds the `providers.v1` base URL of each host. */
  discovery: ServiceDiscovery;
  /** Sent as `X-Terraform-Version` when set (the proxy propagates terraform's own header). */
  terraformVersion?: string;
  /** Timeout per request, body included (default 10 s, terraform's registry client timeout). */
  timeoutMs?: number;
  /** Maximum JSON answer size (default 1 MiB). */
  maxBodyBytes?: number;
}

/**
 * Speaks the provider registry protocol to one or more registry hosts.
 *
 * @example
 * ```ts ignore
 * const fetchFn: FetchLike = (u, i) => fetch(u, i);
 * const client = new ProviderRegistryClient({
 *   fetch: fetchFn,
 *   discovery: new ServiceDiscovery({ fetch: fetchFn }),
 * });
 * const addr = parseProviderSource("hashicorp/null");
 * const list = await client.versions(addr);
 * const dl = await client.download(addr, "3.2.3", { os: "linux", arch: "amd64" });
 * ```
 */
export class ProviderRegistryClient {
  readonly #fetch: FetchLike;
  readonly #discovery: ServiceDiscovery;
  readonly #terraformVersion: string | undefined;
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;

  /**
   * @param options The fetch function, discovery and limits.
   */
  constructor(options: ProviderRegistryClientOptions) {
    this.#fetch = options.fetch;
    this.#discovery = options.discovery;
    this.#terraformVersion = options.terraformVersion;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#maxBodyBytes = options.maxBodyBytes ?? MAX_JSON_BYTES;
  }

  /**
   * Lists the versions of a provider.
   *
   * @param addr The provider.
   * @param options `signal` aborts the request.
   * @returns Every version with its protocols and platforms.
   * @throws {ProviderNotFoundError} when the registry answers 404.
   * @throws {RegistryStatusError} for any other non-2xx answer.
   * @throws {RegistryResponseError} when the answer is malformed.
   * @throws {RegistryUnreachableError} when the request fails.
   */
  async versions(
    addr: ProviderAddress,
    options: { signal?: AbortSignal } = {},
  ): Promise<ProviderVersion[]> {
    return [...(await this.listVersions(addr, options)).versions];
  }

  /**
   * Lists the versions of a provider together with the registry's warnings.
   *
   * @param addr The provider.
   * @param options `signal` aborts the request.
   * @returns The versions and warnings.
   * @throws {ProviderNotFoundError} when the registry answers 404.
   * @throws {RegistryStatusError} for any other non-2xx answer.
   * @throws {RegistryResponseError} when the answer is malformed.
   * @throws {RegistryUnreachableError} when the request fails.
   */
  async listVersions(
    addr: ProviderAddress,
    options: { signal?: AbortSignal } = {},
  ): Promise<ProviderVersionList> {
    const base = await this.#discovery.providersUrl(addr.hostname, options);
    const url = new URL(`${_seg(addr.namespace)}/${_seg(addr.type)}/versions`, base);
    const got = await this.#getJson(url, options.signal);
    if (got.status === 404) {
      throw new ProviderNotFoundError(providerAddressString(addr), url.href);
    }
    return _parseVersions(got.body, got.url.href);
  }

  /**
   * Fetches the download metadata of one package.
   *
   * On a 404 the client asks the `versions` endpoint once to tell the three cases apart.
   *
   * @param addr The provider.
   * @param version The exact version, e.g. `5.31.0`.
   * @param platform The target platform.
   * @param options `signal` aborts the request.
   * @returns The package metadata with absolute URLs.
   * @throws {ProviderNotFoundError} when the provider does not exist.
   * @throws {VersionNotFoundError} when the version is not listed.
   * @throws {PlatformNotAvailableError} when the version has no package for the platform.
   * @throws {RegistryStatusError} for any other non-2xx answer.
   * @throws {RegistryResponseError} when the answer is malformed.
   * @throws {RegistryUnreachableError} when the request fails.
   */
  async download(
    addr: ProviderAddress,
    version: string,
    platform: Platform,
    options: { signal?: AbortSignal } = {},
  ): Promise<ProviderDownload> {
    const base = await this.#discovery.providersUrl(addr.hostname, options);
    const url = new URL(
      `${_seg(addr.namespace)}/${_seg(addr.type)}/${_seg(version)}/download/${_seg(platform.os)}/${
        _seg(platform.arch)
      }`,
      base,
    );
    const got = await this.#getJson(url, options.signal);
    if (got.status === 404) {
      throw await this.#classifyNotFound(addr, version, platform, url.href, options);
    }
    return _parseDownload(got.body, got.url, platform);
  }

  async #classifyNotFound(
    addr: ProviderAddress,
    version: string,
    platform: Platform,
    url: string,
    options: { signal?: AbortSignal },
  ): Promise<RegistryNotFoundError> {
    const provider = providerAddressString(addr);
    let list: ProviderVersionList;
    try {
      list = await this.listVersions(addr, options);
    } catch (err) {
      if (err instanceof ProviderNotFoundError) return new ProviderNotFoundError(provider, url);
      return new PlatformNotAvailableError(provider, version, platformString(platform), url);
    }
    if (!list.versions.some((v) => v.version === version)) {
      return new VersionNotFoundError(provider, version, url);
    }
    return new PlatformNotAvailableError(provider, version, platformString(platform), url);
  }

  /** GET a JSON document: 404 is returned to the caller, other non-2xx statuses throw. */
  #getJson(
    url: URL,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; url: URL; body: unknown }> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#terraformVersion !== undefined) {
      headers["x-terraform-version"] = this.#terraformVersion;
    }
    return withTimeout(this.#timeoutMs, signal, async (combined) => {
      let response: Response;
      try {
        response = await this.#fetch(url, {
          headers,
          purpose: "metadata",
          ...(combined === undefined ? {} : { signal: combined }),
        });
      } catch (cause) {
        throw new RegistryUnreachableError(url.href, { cause });
      }
      const finalUrl = effectiveUrl(response, url);
      if (response.status === 404) {
        await response.body?.cancel();
        return { status: 404, url: finalUrl, body: undefined };
      }
      if (response.status < 200 || response.status > 299) {
        await response.body?.cancel();
        throw new RegistryStatusError(response.status, url.href);
      }
      let bytes: Uint8Array;
      try {
        bytes = await readJsonBody(response, this.#maxBodyBytes);
      } catch (cause) {
        if (cause instanceof BodyTooLargeError) {
          throw new RegistryResponseError(finalUrl.href, "", cause.message, { cause });
        }
        throw new RegistryUnreachableError(url.href, { cause });
      }
      let body: unknown;
      try {
        body = JSON.parse(new TextDecoder().decode(bytes));
      } catch (cause) {
        throw new RegistryResponseError(finalUrl.href, "", "body is not valid JSON", { cause });
      }
      return { status: response.status, url: finalUrl, body };
    });
  }
}

function _seg(part: string): string {
  return encodeURIComponent(part);
}

type _Json = Record<string, unknown>;

function _object(value: unknown, url: string, field: string): _Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RegistryResponseError(
      url,
      field,
      field === "" ? "body is not a JSON object" : "must be an object",
    );
  }
  return value as _Json;
}

function _string(obj: _Json, key: string, url: string, path: string): string {
  const value = obj[key];
  if (value === undefined || value === null) {
    throw new RegistryResponseError(url, path, "is missing");
  }
  if (typeof value !== "string") throw new RegistryResponseError(url, path, "must be a string");
  return value;
}

function _optionalString(obj: _Json, key: string, url: string, path: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new RegistryResponseError(url, path, "must be a string");
  return value;
}

function _stringArray(obj: _Json, key: string, url: string, path: string): string[] {
  const value = obj[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new RegistryResponseError(url, path, "must be an array");
  return value.map((item, i) => {
    if (typeof item !== "string") {
      throw new RegistryResponseError(url, `${path}[${i}]`, "must be a string");
    }
    return item;
  });
}

function _parseVersions(body: unknown, url: string): ProviderVersionList {
  const doc = _object(body, url, "");
  const raw = doc["versions"];
  if (raw === undefined || raw === null) {
    throw new RegistryResponseError(url, "versions", "is missing");
  }
  if (!Array.isArray(raw)) throw new RegistryResponseError(url, "versions", "must be an array");
  const versions = raw.map((item, i): ProviderVersion => {
    const path = `versions[${i}]`;
    const entry = _object(item, url, path);
    const version = _string(entry, "version", url, `${path}.version`);
    if (version === "") throw new RegistryResponseError(url, `${path}.version`, "is empty");
    const protocols = _stringArray(entry, "protocols", url, `${path}.protocols`);
    const platformsRaw = entry["platforms"];
    let platforms: Platform[] = [];
    if (platformsRaw !== undefined && platformsRaw !== null) {
      if (!Array.isArray(platformsRaw)) {
        throw new RegistryResponseError(url, `${path}.platforms`, "must be an array");
      }
      platforms = platformsRaw.map((p, j) => {
        const pp = `${path}.platforms[${j}]`;
        const obj = _object(p, url, pp);
        return {
          os: _string(obj, "os", url, `${pp}.os`),
          arch: _string(obj, "arch", url, `${pp}.arch`),
        };
      });
    }
    return { version, protocols, platforms };
  });
  const warnings = _stringArray(doc, "warnings", url, "warnings");
  return { versions, warnings };
}

function _absolute(raw: string, base: URL, url: string, field: string): string {
  let resolved: URL;
  try {
    resolved = new URL(raw, base);
  } catch {
    throw new RegistryResponseError(url, field, `is not a valid URL: "${raw}"`);
  }
  if (resolved.protocol !== "https:" && resolved.protocol !== "http:") {
    throw new RegistryResponseError(url, field, `must use http or https: "${raw}"`);
  }
  return resolved.href;
}

function _parseDownload(body: unknown, endpoint: URL, requested: Platform): ProviderDownload {
  const url = endpoint.href;
  const doc = _object(body, url, "");
  const protocols = _stringArray(doc, "protocols", url, "protocols");
  const os = _optionalString(doc, "os", url, "os");
  const arch = _optionalString(doc, "arch", url, "arch");
  if (
    (os !== undefined && os !== requested.os) || (arch !== undefined && arch !== requested.arch)
  ) {
    throw new RegistryResponseError(
      url,
      os !== requested.os ? "os" : "arch",
      `does not match the requested platform: got "${os ?? requested.os}_${
        arch ?? requested.arch
      }", want "${platformString(requested)}"`,
    );
  }
  const filename = _string(doc, "filename", url, "filename");
  if (filename === "" || filename.includes("/") || filename.includes("\\")) {
    throw new RegistryResponseError(url, "filename", `must be a plain file name: "${filename}"`);
  }
  const downloadRaw = _string(doc, "download_url", url, "download_url");
  if (downloadRaw === "") throw new RegistryResponseError(url, "download_url", "is empty");
  const downloadUrl = _absolute(downloadRaw, endpoint, url, "download_url");
  const shasum = _string(doc, "shasum", url, "shasum");
  if (!/^[0-9a-fA-F]{64}$/.test(shasum)) {
    throw new RegistryResponseError(url, "shasum", `must be 64 hex digits: "${shasum}"`);
  }
  const shasumsRaw = _optionalString(doc, "shasums_url", url, "shasums_url");
  const sigRaw = _optionalString(doc, "shasums_signature_url", url, "shasums_signature_url");
  return {
    filename,
    downloadUrl,
    shasum: shasum.toLowerCase(),
    shasumsUrl: shasumsRaw === undefined
      ? undefined
      : _absolute(shasumsRaw, endpoint, url, "shasums_url"),
    shasumsSignatureUrl: sigRaw === undefined
      ? undefined
      : _absolute(sigRaw, endpoint, url, "shasums_signature_url"),
    signingKeys: _parseSigningKeys(doc["signing_keys"], url),
    protocols,
    platform: { os: requested.os, arch: requested.arch },
  };
}

function _parseSigningKeys(value: unknown, url: string): SigningKeys {
  if (value === undefined || value === null) return { gpgPublicKeys: [] };
  const obj = _object(value, url, "signing_keys");
  const list = obj["gpg_public_keys"];
  if (list === undefined || list === null) return { gpgPublicKeys: [] };
  if (!Array.isArray(list)) {
    throw new RegistryResponseError(url, "signing_keys.gpg_public_keys", "must be an array");
  }
  const gpgPublicKeys = list.map((item, i): GpgPublicKey => {
    const path = `signing_keys.gpg_public_keys[${i}]`;
    const key = _object(item, url, path);
    const asciiArmor = _string(key, "ascii_armor", url, `${path}.ascii_armor`);
    if (asciiArmor === "") throw new RegistryResponseError(url, `${path}.ascii_armor`, "is empty");
    const trustSignature = _optionalString(key, "trust_signature", url, `${path}.trust_signature`);
    const source = _optionalString(key, "source", url, `${path}.source`);
    const sourceUrl = _optionalString(key, "source_url", url, `${path}.source_url`);
    return {
      keyId: _optionalString(key, "key_id", url, `${path}.key_id`) ?? "",
      asciiArmor,
      ...(trustSignature === undefined ? {} : { trustSignature }),
      ...(source === undefined ? {} : { source }),
      ...(sourceUrl === undefined ? {} : { sourceUrl }),
    };
  });
  return { gpgPublicKeys };
}

/**
 * The provider mirror: one {@linkcode Mirror} with two faces over one set of cached objects.
 *
 * **Registry face** (terraform is pointed at it by a CLI-config `host` block, so it verifies the
 * signature itself and records `zh:` hashes for every platform, exactly as a direct install):
 * - `registry/<host>/providers/v1/<ns>/<type>/versions` — the upstream document, cached;
 * - `registry/<host>/providers/v1/<ns>/<type>/<version>/download/<os>/<arch>` — the upstream
 *   document cached with absolute upstream URLs; at serve time the package and checksum URLs are
 *   rewritten to this cache's base URL (nothing port- or secret-specific is ever cached);
 * - `registry/<host>/<ns>/<type>/<version>/SHA256SUMS` and `SHA256SUMS.sig` — immutable, and
 *   committed only once the pair verifies against the registry's signing keys (plus HashiCorp's
 *   own key for `registry.terraform.io/hashicorp/*`).
 *
 * **Network mirror face** (`network_mirror { url = "<base>providers/" }`):
 * - `providers/<host>/<ns>/<type>/index.json` — built from the upstream versions;
 * - `providers/<host>/<ns>/<type>/<version>.json` — platforms resolved in parallel (bounded),
 *   relative archive URLs, `zh:` hashes, plus the package's `h1:` added at serve time as soon as
 *   the zip is cached and annotated.
 *
 * **The package** `providers/<host>/<ns>/<type>/terraform-provider-<type>_<v>_<os>_<arch>.zip`
 * serves both faces. Its route is computed from the path alone, so a cached zip is served with
 * the registry unreachable. On a miss it is fetched from the registry's `download_url` and
 * committed only if its SHA-256 equals the registry `shasum` and the signed SHA256SUMS entry.
 * Its `h1:` is not part of that gate: the route's `annotate` hook computes it right after the
 * commit, in the background, and adds it to the sidecar (readers cope with it being absent).
 *
 * @module
 */

import { HttpError, IntegrityError, UpstreamError } from "../proxy/errors.ts";
import type {
  AnnotateInput,
  CachedObject,
  Mirror,
  ProducedArtifact,
  ProducedMetadata,
  Route,
  RouteContext,
  VerifyInput,
} from "../proxy/route.ts";
import type { Store } from "../proxy/store.ts";
import { announcedSize } from "../proxy/upstream.ts";
import { packageHashV1FromZip } from "../registry/hashes.ts";
import { parseSha256Sums } from "../registry/sha256sums.ts";
import { mapBounded } from "./_bounded.ts";
import { verifyChecksumsSignature } from "./provider_integrity.ts";
import {
  isProviderPath,
  isValidPlatformPart,
  isValidProviderVersion,
  type PackageCoords,
  packageFilename,
  parseProviderPath,
  type ProviderCoords,
  providerKeys,
  providerUrls,
  SHA256SUMS,
  SHA256SUMS_SIG,
  type VersionCoords,
} from "./provider_paths.ts";
import {
  type DownloadDoc,
  fetchDownload,
  fetchSmallFile,
  fetchVersions,
  parseDownloadDoc,
  providerLabel,
  type ProviderServiceDiscovery,
  throwStatus,
  upstreamGet,
} from "./provider_upstream.ts";

export { providerRegistryHostBlock, providerServicesUrl } from "./provider_paths.ts";
export type { ProviderServiceDiscovery } from "./provider_upstream.ts";

/** Content type of every JSON document this mirror serves. */
const JSON_TYPE = "application/json";
/** Content type of provider packages. */
const ZIP_TYPE = "application/zip";
/** Content type of SHA256SUMS (text) and its signature (binary). */
const SUMS_TYPE = "text/plain; charset=utf-8";
const SIG_TYPE = "application/octet-stream";
/** Base URL for re-parsing cached download documents (their URLs are already absolute). */
const CACHED_DOC_BASE = new URL("https://cached.invalid/");

/** Options for {@linkcode ProviderMirror}. */
export interface ProviderMirrorOptions {
  /** The store the caching core uses; the mirror reads and adds shared objects through it. */
  store: Store;
  /** Finds each registry host's `providers.v1` base URL (`ServiceDiscovery` from src/registry). */
  discovery: ProviderServiceDiscovery;
  /** Most platforms resolved at once for a `<version>.json` (default 8). */
  parallelism?: number;
}

/**
 * Sidecar fields recorded for a verified provider package at commit time. The `h1:` hash of the
 * package contents (what terraform records for the host platform) is added shortly after, by the
 * route's `annotate` hook ({@linkcode ProviderPackageAnnotation}).
 */
export interface ProviderPackageExtra extends Record<string, unknown> {
  /** `zh:` hash of the zip file. */
  zh: string;
  /** Registry file name (the SHA256SUMS entry it was checked against). */
  filename: string;
  /** Where the bytes came from. */
  upstreamUrl: string;
}

/** Sidecar fields added to a provider package after its commit. */
export interface ProviderPackageAnnotation extends Record<string, unknown> {
  /** `h1:` hash of the package contents. */
  h1: string;
}

/** The two checksum files of a version, already verified. */
interface VerifiedChecksums {
  sums: Uint8Array;
  sig: Uint8Array;
}

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

function jsonResponse(body: Uint8Array | string): Response {
  return new Response(body as BodyInit, {
    status: 200,
    headers: { "content-type": JSON_TYPE },
  });
}

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

async function hexSha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function sortedObject<T>(entries: Iterable<[string, T]>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[k] = v;
  return out;
}

/**
 * The provider mirror (both faces). See the module documentation.
 *
 * @example
 * ```ts
 * import { FileStore } from "../proxy/file_store.ts";
 * import { ServiceDiscovery } from "../registry/service_discovery.ts";
 *
 * const mirror = new ProviderMirror({
 *   store: new FileStore("/tmp/tfcache-example"),
 *   discovery: new ServiceDiscovery({ fetch: (url, init) => fetch(url, init) }),
 * });
 * mirror.handles("providers/registry.terraform.io/hashicorp/aws/index.json"); // true
 * ```
 */
export class ProviderMirror implements Mirror {
  /** Name used in logs and reports. */
  readonly name = "providers";
  readonly #store: Store;
  readonly #discovery: ProviderServiceDiscovery;
  readonly #parallelism: number;
  /** Checksum pairs being fetched, per version: terraform asks for both files at once. */
  readonly #checksumsInFlight = new Map<string, Promise<VerifiedChecksums>>();

  /**
   * Creates the mirror.
   *
   * @param options The store, service discovery and platform parallelism.
   * @throws {RangeError} when `parallelism` is not a positive integer.
   */
  constructor(options: ProviderMirrorOptions) {
    this.#store = options.store;
    this.#discovery = options.discovery;
    const parallelism = options.parallelism ?? 8;
    if (!Number.isInteger(parallelism) || parallelism < 1) {
      throw new RangeError(
        `Provider mirror parallelism must be a positive integer, got ${parallelism}`,
      );
    }
    this.#parallelism = parallelism;
  }

  /**
   * Whether the path belongs to this mirror (`providers/…`, `registry/<host>/providers/v1/…`,
   * and the registry face's checksum files).
   *
   * @param path Request path relative to the cache base URL.
   * @returns `true` when this mirror owns it.
   */
  handles(path: string): boolean {
    return isProviderPath(path);
  }

  /**
   * Maps a request to its route. Never contacts upstream: every route is computed from the path.
   *
   * @param _request The inbound request (unused: the method is not checked, as a mirror).
   * @param path Request path relative to the cache base URL.
   * @param _ctx Route context (used by the hooks, not here).
   * @returns The route.
   * @throws {HttpError} 400 for malformed paths, 404 for paths naming no provider object.
   */
  route(_request: Request, path: string, _ctx: RouteContext): Promise<Route> {
    try {
      return Promise.resolve(this.#route(path));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #route(path: string): Route {
    const parsed = parseProviderPath(path);
    switch (parsed.kind) {
      case "versions":
        return this.#versionsRoute(parsed.coords);
      case "download":
        return this.#downloadRoute(parsed.coords);
      case "shasums":
        return this.#checksumRoute(parsed.coords, "sums");
      case "shasums-sig":
        return this.#checksumRoute(parsed.coords, "sig");
      case "index":
        return this.#indexRoute(parsed.coords);
      case "version":
        return this.#versionRoute(parsed.coords);
      case "zip":
        return this.#zipRoute(parsed.coords);
    }
  }

  // ---------------------------------------------------------------- registry face

  #versionsRoute(c: ProviderCoords): Route {
    return {
      key: providerKeys.versions(c),
      kind: "metadata",
      contentType: JSON_TYPE,
      produce: async (ctx): Promise<ProducedMetadata> => {
        const { bytes } = await fetchVersions(ctx, this.#discovery, c);
        return { body: bytes, contentType: JSON_TYPE };
      },
    };
  }

  #downloadRoute(c: PackageCoords): Route {
    return {
      key: providerKeys.download(c),
      kind: "metadata",
      contentType: JSON_TYPE,
      produce: async (ctx): Promise<ProducedMetadata> => {
        const doc = await fetchDownload(ctx, this.#discovery, c);
        return { body: jsonBytes(doc.raw), contentType: JSON_TYPE };
      },
      serve: async (object: CachedObject, ctx: RouteContext): Promise<Response> => {
        const doc = parseDownloadDoc(
          parseCachedJson(object, await object.bytes()),
          CACHED_DOC_BASE,
          c,
        );
        return jsonResponse(JSON.stringify(renderDownload(doc, c, ctx.baseUrl)));
      },
    };
  }

  #checksumRoute(v: VersionCoords, which: "sums" | "sig"): Route {
    let expectedSha256: string | undefined;
    return {
      key: which === "sums" ? providerKeys.shasums(v) : providerKeys.shasumsSig(v),
      kind: "artifact",
      contentType: which === "sums" ? SUMS_TYPE : SIG_TYPE,
      produceArtifact: async (ctx): Promise<ProducedArtifact> => {
        const pair = await this.#fetchVerifiedChecksums(ctx, v, undefined, which);
        const bytes = which === "sums" ? pair.sums : pair.sig;
        expectedSha256 = await hexSha256(bytes);
        return { stream: streamOf(bytes), contentType: which === "sums" ? SUMS_TYPE : SIG_TYPE };
      },
      verify: (input: VerifyInput): Promise<void> => {
        const name = which === "sums" ? SHA256SUMS : SHA256SUMS_SIG;
        if (expectedSha256 === undefined) {
          return Promise.reject(
            new UpstreamError(input.key, `${name} was not produced by a verified fetch`),
          );
        }
        if (input.sha256 !== expectedSha256) {
          return Promise.reject(
            new IntegrityError(`"${name}" of ${labelVersion(v)}`, expectedSha256, input.sha256),
          );
        }
        return Promise.resolve();
      },
    };
  }

  // ---------------------------------------------------------------- network mirror face

  #indexRoute(c: ProviderCoords): Route {
    return {
      key: providerKeys.index(c),
      kind: "metadata",
      contentType: JSON_TYPE,
      produce: async (ctx): Promise<ProducedMetadata> => {
        const { doc } = await fetchVersions(ctx, this.#discovery, c);
        const versions = sortedObject(
          doc.versions
            .filter((entry) => isValidProviderVersion(entry.version))
            .map((entry): [string, Record<string, never>] => [entry.version, {}]),
        );
        return { body: jsonBytes({ versions }), contentType: JSON_TYPE };
      },
    };
  }

  #versionRoute(v: VersionCoords): Route {
    return {
      key: providerKeys.version(v),
      kind: "metadata",
      contentType: JSON_TYPE,
      produce: (ctx) => this.#produceVersion(ctx, v),
      serve: async (object: CachedObject): Promise<Response> => {
        const doc = parseCachedJson(object, await object.bytes());
        return jsonResponse(JSON.stringify(await this.#withCachedH1(doc, v)));
      },
    };
  }

  async #produceVersion(ctx: RouteContext, v: VersionCoords): Promise<ProducedMetadata> {
    const { doc } = await fetchVersions(ctx, this.#discovery, v);
    const entry = doc.versions.find((e) => e.version === v.version);
    if (entry === undefined) {
      throw new HttpError(404, `Provider "${providerLabel(v)}" has no version "${v.version}"`);
    }
    const seen = new Set<string>();
    const platforms = entry.platforms.filter((p) => {
      const id = `${p.os}_${p.arch}`;
      if (!isValidPlatformPart(p.os) || !isValidPlatformPart(p.arch) || seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    const resolved = await mapBounded(platforms, this.#parallelism, async (p) => {
      const c: PackageCoords = { ...v, os: p.os, arch: p.arch };
      try {
        const download = await this.#loadDownload(ctx, c);
        return [`${p.os}_${p.arch}`, {
          url: packageFilename(c),
          hashes: [`zh:${download.shasum}`],
        }] as [string, { url: string; hashes: string[] }];
      } catch (error) {
        // The registry lists the platform but has no package for it: leave it out, as the
        // registry protocol would answer 404 for it too. Anything else fails the document.
        if (error instanceof HttpError && error.status === 404) return undefined;
        throw error;
      }
    });
    const archives = sortedObject(resolved.filter((r) => r !== undefined));
    return { body: jsonBytes({ archives }), contentType: JSON_TYPE };
  }

  /** Adds the cached packages' `h1:` hashes to a `<version>.json` document. */
  async #withCachedH1(doc: unknown, v: VersionCoords): Promise<unknown> {
    if (typeof doc !== "object" || doc === null) return doc;
    const archives = (doc as { archives?: unknown }).archives;
    if (typeof archives !== "object" || archives === null) return doc;
    const out: Record<string, unknown> = {};
    for (const [platform, archive] of Object.entries(archives as Record<string, unknown>)) {
      out[platform] = archive;
      const sep = platform.indexOf("_");
      if (typeof archive !== "object" || archive === null || sep < 0) continue;
      const c: PackageCoords = { ...v, os: platform.slice(0, sep), arch: platform.slice(sep + 1) };
      if (!isValidPlatformPart(c.os) || !isValidPlatformPart(c.arch)) continue;
      const info = await this.#store.stat(providerKeys.zip(c));
      const h1 = info?.extra["h1"];
      if (typeof h1 !== "string" || !h1.startsWith("h1:")) continue;
      const hashes = (archive as { hashes?: unknown }).hashes;
      const list = Array.isArray(hashes) ? hashes.filter((h) => typeof h === "string") : [];
      if (!list.includes(h1)) out[platform] = { ...archive, hashes: [h1, ...list] };
    }
    return { ...doc, archives: out };
  }

  // ---------------------------------------------------------------- the package

  #zipRoute(c: PackageCoords): Route {
    let expected: DownloadDoc | undefined;
    return {
      key: providerKeys.zip(c),
      kind: "artifact",
      contentType: ZIP_TYPE,
      produceArtifact: async (ctx): Promise<ProducedArtifact> => {
        const doc = await this.#loadDownload(ctx, c);
        const checksums = await this.#checksums(ctx, c, doc);
        const listed = parseSha256Sums(checksums.sums, `SHA256SUMS of ${labelVersion(c)}`)
          .get(doc.filename);
        if (listed === undefined) {
          throw new HttpError(
            502,
            `Cannot verify "${doc.filename}" of ${
              labelVersion(c)
            }: the signed SHA256SUMS has no entry for it`,
          );
        }
        if (listed !== doc.shasum) {
          throw new IntegrityError(
            `"${doc.filename}" of ${labelVersion(c)} (registry shasum vs signed SHA256SUMS)`,
            listed,
            doc.shasum,
          );
        }
        expected = doc;
        const response = await upstreamGet(ctx, doc.downloadUrl, "artifact");
        if (response.status < 200 || response.status > 299) {
          await throwStatus(response, doc.downloadUrl);
        }
        if (response.body === null) {
          throw new UpstreamError(doc.downloadUrl, "response has no body");
        }
        const size = announcedSize(response.headers);
        return {
          stream: response.body,
          contentType: ZIP_TYPE,
          ...(size === undefined ? {} : { size }),
        };
      },
      // deno-lint-ignore require-await -- async so that a failed check is a rejection
      verify: async (input: VerifyInput): Promise<ProviderPackageExtra> => {
        if (expected === undefined) {
          throw new UpstreamError(input.key, "package was not produced by a verified fetch");
        }
        if (input.sha256 !== expected.shasum) {
          throw new IntegrityError(
            `"${expected.filename}" of ${labelVersion(c)} downloaded from ${expected.downloadUrl}`,
            `zh:${expected.shasum}`,
            `zh:${input.sha256}`,
          );
        }
        return {
          zh: `zh:${input.sha256}`,
          filename: expected.filename,
          upstreamUrl: expected.downloadUrl,
        };
      },
      annotate: async (input: AnnotateInput): Promise<ProviderPackageAnnotation> => ({
        h1: await packageHashV1FromZip(input.path),
      }),
    };
  }

  // ---------------------------------------------------------------- shared objects

  /**
   * The download document of a package: from the store when cached (even stale: the shasum of a
   * published package never changes), else from the registry, and then cached.
   */
  async #loadDownload(ctx: RouteContext, c: PackageCoords): Promise<DownloadDoc> {
    const key = providerKeys.download(c);
    const cached = await this.#readCached(key);
    if (cached !== undefined) {
      try {
        return parseDownloadDoc(JSON.parse(new TextDecoder().decode(cached)), CACHED_DOC_BASE, c);
      } catch {
        // An unreadable cached copy is replaced by a fresh one below.
      }
    }
    const doc = await fetchDownload(ctx, this.#discovery, c);
    await this.#commitQuietly(key, jsonBytes(doc.raw), "metadata", JSON_TYPE, ctx.signal);
    return doc;
  }

  /** Any cached download document of a version, or one fetched for a listed platform. */
  async #anyDownload(ctx: RouteContext, v: VersionCoords): Promise<DownloadDoc> {
    for await (const info of this.#store.list(providerKeys.downloadPrefix(v))) {
      const m = /\/download\/([a-z0-9]+)_([a-z0-9]+)\.json$/.exec(info.key);
      if (m === null) continue;
      try {
        return await this.#loadDownload(ctx, { ...v, os: m[1]!, arch: m[2]! });
      } catch {
        // Try the next one, then upstream.
      }
    }
    const { doc } = await fetchVersions(ctx, this.#discovery, v);
    const entry = doc.versions.find((e) => e.version === v.version);
    if (entry === undefined) {
      throw new HttpError(404, `Provider "${providerLabel(v)}" has no version "${v.version}"`);
    }
    const platforms = entry.platforms.filter((p) =>
      isValidPlatformPart(p.os) && isValidPlatformPart(p.arch)
    );
    let lastError: unknown = new HttpError(
      404,
      `Provider "${providerLabel(v)}" ${v.version} lists no platforms, so it has no SHA256SUMS`,
    );
    for (const p of platforms) {
      try {
        return await this.#loadDownload(ctx, { ...v, os: p.os, arch: p.arch });
      } catch (error) {
        lastError = error;
        if (!(error instanceof HttpError && error.status === 404)) break;
      }
    }
    throw lastError;
  }

  /** The verified SHA256SUMS pair for a package's version: from the store, else upstream. */
  async #checksums(
    ctx: RouteContext,
    v: VersionCoords,
    doc: DownloadDoc,
  ): Promise<VerifiedChecksums> {
    const sums = await this.#readCached(providerKeys.shasums(v));
    const sig = await this.#readCached(providerKeys.shasumsSig(v));
    if (sums !== undefined && sig !== undefined) return { sums, sig };
    return await this.#fetchVerifiedChecksums(ctx, v, doc, undefined);
  }

  /**
   * Fetches SHA256SUMS and its signature from the URLs of a download document, verifies the
   * signature, and commits the pair (except `skip`, which the caller's own route commits).
   */
  async #fetchVerifiedChecksums(
    ctx: RouteContext,
    v: VersionCoords,
    given: DownloadDoc | undefined,
    skip: "sums" | "sig" | undefined,
  ): Promise<VerifiedChecksums> {
    const flightKey = providerKeys.shasums(v);
    let flight = this.#checksumsInFlight.get(flightKey);
    if (flight === undefined) {
      flight = (async () => {
        const doc = given ?? await this.#anyDownload(ctx, v);
        const [sums, sig] = await Promise.all([
          fetchSmallFile(ctx, doc.shasumsUrl),
          fetchSmallFile(ctx, doc.shasumsSignatureUrl),
        ]);
        await verifyChecksumsSignature({
          provider: v,
          version: v.version,
          sums,
          signature: sig,
          keys: doc.signingKeys,
          sumsUrl: doc.shasumsUrl,
        });
        return { sums, sig };
      })().finally(() => this.#checksumsInFlight.delete(flightKey));
      this.#checksumsInFlight.set(flightKey, flight);
    }
    const { sums, sig } = await flight;
    if (skip !== "sums") {
      await this.#commitQuietly(providerKeys.shasums(v), sums, "artifact", SUMS_TYPE, ctx.signal);
    }
    if (skip !== "sig") {
      await this.#commitQuietly(providerKeys.shasumsSig(v), sig, "artifact", SIG_TYPE, ctx.signal);
    }
    return { sums, sig };
  }

  async #readCached(key: string): Promise<Uint8Array | undefined> {
    let opened;
    try {
      opened = await this.#store.open(key);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    return new Uint8Array(await new Response(opened.body).arrayBuffer());
  }

  /**
   * Adds a shared object to the store. Losing a race to an identical commit is harmless, and a
   * failed side commit never fails the request that needed the object.
   */
  async #commitQuietly(
    key: string,
    bytes: Uint8Array,
    kind: "metadata" | "artifact",
    contentType: string,
    signal: AbortSignal,
  ): Promise<void> {
    if (kind === "artifact" && (await this.#store.stat(key)) !== undefined) return;
    try {
      await this.#store.commit(key, streamOf(bytes), { kind, contentType, signal });
    } catch {
      // Best effort: the caller already holds verified bytes.
    }
  }
}

function labelVersion(v: VersionCoords): string {
  return `"${providerLabel(v)}" ${v.version}`;
}

function parseCachedJson(object: CachedObject, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new HttpError(500, `Cached object "${object.meta.key}" is not valid JSON`, { cause });
  }
}

/**
 * The registry-face download document for one request: package and checksum URLs point at this
 * cache's base URL; everything else is the upstream answer untouched.
 *
 * @param doc The cached document.
 * @param c The package.
 * @param baseUrl Public base URL of the cache for this request.
 * @returns The JSON object to send.
 */
export function renderDownload(
  doc: DownloadDoc,
  c: PackageCoords,
  baseUrl: URL | string,
): Record<string, unknown> {
  return {
    ...doc.raw,
    download_url: providerUrls.zip(baseUrl, c),
    shasums_url: providerUrls.shasums(baseUrl, c),
    shasums_signature_url: providerUrls.shasumsSig(baseUrl, c),
  };
}

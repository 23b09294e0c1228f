/**
 * Provider packages and checksums for `tfcache lock`, fetched THROUGH a running tfcache cache:
 * the registry protocol at `<base>registry/<host>/providers/v1/…` and the rewritten package and
 * SHA256SUMS URLs. A warm cache answers everything locally; a cold one fills the same objects
 * `tfcache run` uses.
 *
 * Everything is checked here too, as terraform would: the SHA256SUMS signature against the
 * registry's keys (and HashiCorp's key for `registry.terraform.io/hashicorp/*`), the registry's
 * `shasum` against SHA256SUMS, and the zip's SHA-256 against both. The package's `h1:` is read
 * from the store's sidecar (computed when the cache verified the zip) or computed from the zip.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { Store } from "../proxy/store.ts";
import { providerKeys, providerServicesUrl } from "../mirrors/provider_paths.ts";
import { RegistryUnreachableError, SignatureError } from "../registry/errors.ts";
import type { FetchLikeInit } from "../registry/fetch_like.ts";
import { HASHICORP_KEY_ID } from "../registry/hashicorp_key.ts";
import { packageHashV1FromZip } from "../registry/hashes.ts";
import type { Platform } from "../registry/platform.ts";
import { type ProviderAddress, providerAddressString } from "../registry/provider_address.ts";
import {
  type ProviderDownload,
  ProviderRegistryClient,
  type ProviderVersion,
} from "../registry/registry_client.ts";
import { ServiceDiscovery } from "../registry/service_discovery.ts";
import { parseSha256Sums, type Sha256Sums } from "../registry/sha256sums.ts";
import { type SignatureAuthentication, verifyChecksumsSignature } from "../registry/signature.ts";
import { CacheAnswerError, ChecksumsSignatureError, PackageChecksumError } from "./lock_errors.ts";

/** Options for {@linkcode CachedProviderSource}. */
export interface CachedProviderSourceOptions {
  /** The cache's HTTP base URL (with the secret prefix and trailing slash). */
  baseUrl: URL;
  /** Registry hosts to route through the cache. */
  hosts: Iterable<string>;
  /** The cache's store, for the packages' `h1:` sidecars and "cached already" checks. */
  store?: Pick<Store, "stat">;
  /**
   * Waits until the cache's fill and post-commit annotation of a key are over (the running
   * handler's `idle`). The cache answers a HEAD before the fill completes and adds the `h1:` to
   * the sidecar shortly after the commit; with this, one HEAD is enough to read it. Without it,
   * a missing `h1:` is computed here from a download.
   */
  idle?: (key: string) => Promise<void>;
  /** HTTP function (default `fetch`). */
  fetch?: (url: string | URL, init?: RequestInit) => Promise<Response>;
  /** Where to stage a zip when its `h1:` must be computed here (default the system temp dir). */
  tempDir?: string;
}

/** A verified SHA256SUMS document. */
export interface VerifiedChecksums {
  /** The parsed document. */
  readonly sums: Sha256Sums;
  /** Who signed it. */
  readonly auth: SignatureAuthentication;
}

/** The hashes of one fetched and checked package. */
export interface FetchedPackage {
  /** `zh:` of the zip. */
  readonly zh: string;
  /** `h1:` of the package contents. */
  readonly h1: string;
  /** Size of the zip. */
  readonly size: number;
  /** Whether the cache had it before this fetch. */
  readonly wasCached: boolean;
}

const OFFICIAL_HOST = "registry.terraform.io";

/** See the module documentation. */
export class CachedProviderSource {
  readonly #baseUrl: URL;
  readonly #client: ProviderRegistryClient;
  readonly #store: Pick<Store, "stat"> | undefined;
  readonly #idle: ((key: string) => Promise<void>) | undefined;
  readonly #fetch: (url: string | URL, init?: RequestInit) => Promise<Response>;
  readonly #tempDir: string | undefined;
  readonly #checksums = new Map<string, Promise<VerifiedChecksums>>();

  /**
   * @param options The cache base URL, the hosts, the store and the HTTP function.
   */
  constructor(options: CachedProviderSourceOptions) {
    this.#baseUrl = options.baseUrl;
    this.#store = options.store;
    this.#idle = options.idle;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#tempDir = options.tempDir;
    const overrides: Record<string, Record<string, string>> = {};
    for (const host of options.hosts) {
      overrides[host] = { "providers.v1": providerServicesUrl(options.baseUrl, host) };
    }
    const cacheFetch = (url: string | URL, init?: FetchLikeInit) => this.#get(url, init);
    this.#client = new ProviderRegistryClient({
      fetch: cacheFetch,
      discovery: new ServiceDiscovery({ fetch: cacheFetch, overrides }),
      // A cold cache may have to reach a slow upstream first.
      timeoutMs: 120_000,
    });
  }

  /**
   * The versions the registry lists for a provider.
   *
   * @param addr The provider.
   * @returns The versions with their platforms.
   * @throws {ProviderNotFoundError} when the registry does not know the provider.
   * @throws {CacheAnswerError} when the cache cannot answer.
   */
  async versions(addr: ProviderAddress): Promise<ProviderVersion[]> {
    return await this.#unwrap(() => this.#client.versions(addr));
  }

  /**
   * The download document of one package (URLs point at the cache).
   *
   * @param addr The provider.
   * @param version The version.
   * @param platform The platform.
   * @returns The document.
   */
  async download(
    addr: ProviderAddress,
    version: string,
    platform: Platform,
  ): Promise<ProviderDownload> {
    return await this.#unwrap(() => this.#client.download(addr, version, platform));
  }

  /**
   * The verified SHA256SUMS of a version (fetched and checked once per version).
   *
   * @param addr The provider.
   * @param version The version.
   * @param download Any download document of the version (for the URLs and keys).
   * @returns The parsed document and its signer.
   * @throws {ChecksumsSignatureError} when the signature is missing or invalid.
   */
  checksums(
    addr: ProviderAddress,
    version: string,
    download: ProviderDownload,
  ): Promise<VerifiedChecksums> {
    const key = `${providerAddressString(addr)} ${version}`;
    let pending = this.#checksums.get(key);
    if (pending === undefined) {
      pending = this.#loadChecksums(addr, version, download);
      this.#checksums.set(key, pending);
    }
    return pending;
  }

  async #loadChecksums(
    addr: ProviderAddress,
    version: string,
    download: ProviderDownload,
  ): Promise<VerifiedChecksums> {
    const provider = providerAddressString(addr);
    if (download.shasumsUrl === undefined || download.shasumsSignatureUrl === undefined) {
      throw new ChecksumsSignatureError(
        provider,
        version,
        undefined,
        "the registry gives no SHA256SUMS or signature URL",
      );
    }
    const [sumsBytes, sigBytes] = await Promise.all([
      this.#small(download.shasumsUrl, `SHA256SUMS of ${provider} ${version}`, provider, version),
      this.#small(
        download.shasumsSignatureUrl,
        `SHA256SUMS.sig of ${provider} ${version}`,
        provider,
        version,
      ),
    ]);
    let auth: SignatureAuthentication;
    try {
      auth = await verifyChecksumsSignature({
        document: sumsBytes,
        signature: sigBytes,
        keys: download.signingKeys.gpgPublicKeys,
        subject: `SHA256SUMS of ${provider} ${version}`,
      });
    } catch (error) {
      if (error instanceof SignatureError) {
        const offered = download.signingKeys.gpgPublicKeys.map((k) => k.keyId).join(", ");
        throw new ChecksumsSignatureError(
          provider,
          version,
          error.keyId ?? (offered || undefined),
          error.message,
          { cause: error },
        );
      }
      throw error;
    }
    if (
      addr.hostname === OFFICIAL_HOST && addr.namespace === "hashicorp" && auth.kind !== "official"
    ) {
      throw new ChecksumsSignatureError(
        provider,
        version,
        auth.keyId,
        `hashicorp/* providers must be signed by HashiCorp's key ${HASHICORP_KEY_ID}`,
      );
    }
    return { sums: parseSha256Sums(sumsBytes, `SHA256SUMS of ${provider} ${version}`), auth };
  }

  /**
   * Fetches one package through the cache and checks it against the signed SHA256SUMS.
   *
   * @param addr The provider.
   * @param version The version.
   * @param platform The platform.
   * @param download Its download document.
   * @param checksums The verified SHA256SUMS of the version.
   * @param onProgress Called with the bytes received so far and the size when known.
   * @returns The package's `zh:` and `h1:`.
   * @throws {PackageChecksumError} when any checksum disagrees.
   */
  async fetchPackage(
    addr: ProviderAddress,
    version: string,
    platform: Platform,
    download: ProviderDownload,
    checksums: VerifiedChecksums,
    onProgress: (bytes: number, total: number | undefined) => void = () => {},
  ): Promise<FetchedPackage> {
    const provider = providerAddressString(addr);
    const what = `"${download.filename}" of ${provider} ${version}`;
    const listed = checksums.sums.get(download.filename);
    if (listed === undefined) {
      throw new PackageChecksumError(
        what,
        `zh:${download.shasum}`,
        "(no entry)",
        "the signed SHA256SUMS",
      );
    }
    if (listed !== download.shasum.toLowerCase()) {
      throw new PackageChecksumError(
        what,
        `zh:${listed}`,
        `zh:${download.shasum}`,
        "the registry's shasum (signed SHA256SUMS vs download document)",
      );
    }
    const key = providerKeys.zip({
      host: addr.hostname,
      namespace: addr.namespace,
      type: addr.type,
      version,
      os: platform.os,
      arch: platform.arch,
    });
    const before = await this.#store?.stat(key).catch(() => undefined);
    const wasCached = before !== undefined && before.sha256 === listed;
    if (this.#store !== undefined) {
      // The cache verified the zip against the signed SHA256SUMS when it committed it, and its
      // sidecar holds the zip's sha256 and h1: fill it with a HEAD request (no body comes back)
      // and read the hashes, instead of transferring and hashing the zip a second time. The HEAD
      // may be answered while the fill still runs, and the h1: is annotated after the commit:
      // `idle` waits for both.
      let info = wasCached ? before : undefined;
      if (info === undefined || sidecarHash(info.extra["h1"]) === undefined) {
        const response = await this.#get(download.downloadUrl, { method: "HEAD" });
        if (!response.ok) throw await this.#answerError(response, what);
        await response.body?.cancel();
        await this.#idle?.(key);
        info = await this.#store.stat(key).catch(() => undefined);
      }
      const h1 = info === undefined ? undefined : sidecarHash(info.extra["h1"]);
      if (info !== undefined && h1 !== undefined) {
        if (info.sha256 !== listed) {
          throw new PackageChecksumError(
            what,
            `zh:${listed}`,
            `zh:${info.sha256}`,
            "the signed SHA256SUMS",
          );
        }
        onProgress(info.size, info.size);
        return { zh: `zh:${info.sha256}`, h1, size: info.size, wasCached };
      }
    }
    // Stream once through SHA-256; stage to disk only when the h1 must be computed here.
    const sidecarH1 = wasCached ? sidecarHash(before.extra["h1"]) : undefined;
    const staging = this.#store === undefined || (wasCached && sidecarH1 === undefined);
    const got = await this.#streamZip(download.downloadUrl, what, onProgress, staging);
    try {
      if (got.sha256 !== listed) {
        throw new PackageChecksumError(
          what,
          `zh:${listed}`,
          `zh:${got.sha256}`,
          "the signed SHA256SUMS",
        );
      }
      let h1 = sidecarH1;
      if (h1 === undefined && !staging) {
        const after = await this.#store?.stat(key).catch(() => undefined);
        if (after?.sha256 === listed) h1 = sidecarHash(after.extra["h1"]);
      }
      if (h1 === undefined) {
        const path = got.path ??
          (await this.#streamZip(download.downloadUrl, what, onProgress, true)).path!;
        try {
          h1 = await packageHashV1FromZip(path);
        } finally {
          if (got.path === undefined) await Deno.remove(path).catch(() => {});
        }
      }
      return { zh: `zh:${got.sha256}`, h1, size: got.size, wasCached };
    } finally {
      if (got.path !== undefined) await Deno.remove(got.path).catch(() => {});
    }
  }

  async #streamZip(
    url: string,
    what: string,
    onProgress: (bytes: number, total: number | undefined) => void,
    stage: boolean,
  ): Promise<{ sha256: string; size: number; path: string | undefined }> {
    const response = await this.#get(url, { purpose: "artifact" });
    if (!response.ok || response.body === null) {
      throw await this.#answerError(response, what);
    }
    const lengthHeader = response.headers.get("content-length");
    const total = lengthHeader === null ? undefined : Number(lengthHeader);
    const hash = createHash("sha256");
    let size = 0;
    let file: Deno.FsFile | undefined;
    let path: string | undefined;
    if (stage) {
      path = await Deno.makeTempFile({
        prefix: "tfcache-lock-",
        suffix: ".zip",
        ...(this.#tempDir === undefined ? {} : { dir: this.#tempDir }),
      });
      file = await Deno.open(path, { write: true, truncate: true });
    }
    try {
      for await (const chunk of response.body) {
        hash.update(chunk);
        size += chunk.byteLength;
        if (file !== undefined) {
          let written = 0;
          while (written < chunk.byteLength) written += await file.write(chunk.subarray(written));
        }
        onProgress(size, total);
      }
    } catch (error) {
      if (path !== undefined) await Deno.remove(path).catch(() => {});
      throw error;
    } finally {
      file?.close();
    }
    return { sha256: hash.digest("hex"), size, path };
  }

  async #small(url: string, what: string, provider: string, version: string): Promise<Uint8Array> {
    const response = await this.#get(url);
    if (!response.ok) {
      const error = await this.#answerError(response, what);
      // The cache refuses to hand out checksums whose signature does not verify.
      if (/signature/i.test(error.message)) {
        const keyId = /key id ([0-9A-Fa-f]{8,40})/.exec(error.message)?.[1];
        throw new ChecksumsSignatureError(provider, version, keyId, error.message, {
          cause: error,
        });
      }
      throw error;
    }
    return new Uint8Array(await response.arrayBuffer());
  }

  /** GET through the cache; error statuses other than 404 become {@linkcode CacheAnswerError}. */
  async #get(url: string | URL, init?: FetchLikeInit): Promise<Response> {
    const response = await this.#fetch(url, {
      ...(init?.method === undefined ? {} : { method: init.method }),
      ...(init?.headers === undefined ? {} : { headers: init.headers }),
      ...(init?.signal === undefined ? {} : { signal: init.signal }),
    });
    if (init?.purpose === "metadata" && response.status >= 400 && response.status !== 404) {
      throw await this.#answerError(response, this.#describe(url));
    }
    return response;
  }

  async #answerError(response: Response, what: string): Promise<CacheAnswerError> {
    const text = await response.text().catch(() => "");
    return new CacheAnswerError(response.status, what, text.trim().slice(0, 2000) || "(no detail)");
  }

  /** The request path without the cache's secret prefix. */
  #describe(url: string | URL): string {
    const href = String(url);
    return href.startsWith(this.#baseUrl.href) ? href.slice(this.#baseUrl.href.length) : href;
  }

  async #unwrap<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof RegistryUnreachableError && error.cause instanceof CacheAnswerError) {
        throw error.cause;
      }
      throw error;
    }
  }
}

function sidecarHash(value: unknown): string | undefined {
  return typeof value === "string" && value.startsWith("h1:") ? value : undefined;
}

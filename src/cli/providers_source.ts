/**
 * The provider source of `tfcache providers install` and `tfcache providers mirror`: a tfcache
 * cache started on the cache directory (loopback, ephemeral port, per-run secret) and a
 * {@linkcode RegistrySource} whose every request goes to that cache — the registry protocol at
 * `<base>registry/<host>/providers/v1/…` (through service-discovery overrides for each host) and
 * the package and checksum URLs the cache rewrites to itself. Nothing bypasses the cache: a URL
 * outside it is refused.
 *
 * Upstream credentials and host blocks come from the user's CLI configuration, as for
 * `tfcache run`.
 *
 * Package URLs are not downloaded over loopback: the fetch carries an artifact locator (see
 * `withArtifactLocator`) that fills the cache with a HEAD request, waits for the fill to commit
 * (the handler's `idle`), and hands the installer the committed object file and the SHA-256 the
 * cache verified, so the installer extracts straight from the cache without copying or
 * re-hashing the zip.
 *
 * @module
 */

import { parseProviderPath, providerKeys, providerServicesUrl } from "../mirrors/provider_paths.ts";
import { type ArtifactLocator, withArtifactLocator } from "../providercache/package_install.ts";
import { FileStore } from "../proxy/file_store.ts";
import type { FetchLike, FetchLikeInit } from "../registry/fetch_like.ts";
import { ProviderRegistryClient } from "../registry/registry_client.ts";
import { ServiceDiscovery } from "../registry/service_discovery.ts";
import { RegistrySource } from "../providercache/sources/registry_source.ts";
import { type CacheRuntime, startCacheRuntime } from "./cache_runtime.ts";
import { loadUserCliConfig } from "./cli_config.ts";
import { loadCredentials } from "./credentials.ts";

/** Byte-level progress of one package download through the cache. */
export interface DownloadObserver {
  /**
   * A package download started.
   *
   * @param url The package URL (under the cache).
   * @param total Its size, when the cache announced one.
   * @returns Called with the bytes received so far, and with `done: true` once at the end.
   */
  started(url: string, total: number | undefined): (received: number, done: boolean) => void;
}

/** Options for {@linkcode openCachedProviderSource}. */
export interface CachedProviderSourceOptions {
  /** The cache directory. */
  cacheDir: string;
  /** Registry hosts of the providers to install (normalised `host[:port]`). */
  hosts: Iterable<string>;
  /** Environment (credentials, `SSL_CERT_FILE`, CLI config location); default the process's. */
  env?: Record<string, string | undefined>;
  /** Observes package downloads (for progress display). */
  downloads?: DownloadObserver;
  /** Receives the cache's warnings and errors. */
  warn?: (message: string) => void;
}

/** A running cache with a provider source that goes through it. */
export interface CachedProviderSource extends AsyncDisposable {
  /** The running cache. */
  readonly runtime: CacheRuntime;
  /** The registry source (through the cache). */
  readonly source: RegistrySource;
  /** The HTTP function that only talks to the cache. */
  readonly fetch: FetchLike;
  /** {@linkcode flattenMessages} without the cache's (secret) base URL in the text. */
  describe(error: unknown): string;
  /** Stops the cache. */
  close(): Promise<void>;
}

/** A request for a URL outside the running cache (a bug: everything must go through it). */
export class CacheBypassError extends Error {
  /** The refused URL. */
  readonly url: string;

  /**
   * @param url The refused URL.
   */
  constructor(url: string) {
    super(
      `refusing to fetch ${url} directly: every provider request must go through the tfcache cache; this is a bug in tfcache`,
    );
    this.name = "CacheBypassError";
    this.url = url;
  }
}

/**
 * The cache could not answer a metadata request (for example, upstream is unreachable, or the
 * registry's SHA256SUMS signature does not verify and the cache refused to store it). Carries
 * the cache's explanation.
 */
export class CacheRequestError extends Error {
  /** The HTTP status the cache answered. */
  readonly status: number;
  /** The request path under the cache (without its secret prefix). */
  readonly path: string;

  /**
   * @param status The HTTP status.
   * @param path The request path under the cache.
   * @param detail The cache's explanation (response body).
   */
  constructor(status: number, path: string, detail: string) {
    super(`the tfcache cache answered ${status} for ${path}: ${detail}`);
    this.name = "CacheRequestError";
    this.status = status;
    this.path = path;
  }
}

/**
 * Starts the cache and builds the source.
 *
 * @param options Cache directory, hosts, environment and observers.
 * @returns The running cache and source; close it when done.
 */
export async function openCachedProviderSource(
  options: CachedProviderSourceOptions,
): Promise<CachedProviderSource> {
  const env = options.env ?? Deno.env.toObject();
  const user = await loadUserCliConfig((name) => env[name]);
  const credentials = await loadCredentials(user, env);
  const warn = options.warn ?? ((m: string) => console.error(m));
  const runtime = await startCacheRuntime({
    cacheDir: options.cacheDir,
    credentials,
    hostOverrides: Object.fromEntries(user.hosts),
    env,
    https: false,
    log: (level, message) => {
      // Failed fills are reported per provider by the commands; only the cache's own errors here.
      if (level === "error") warn(`tfcache: ${level}: ${message}`);
    },
  });
  const close = () => runtime.close();
  return {
    ...providerSourceThroughCache(runtime, options),
    runtime,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A provider source over a cache somebody else started (and stops). */
export interface ProviderSourceThroughCache {
  /** The registry source (through the cache). */
  readonly source: RegistrySource;
  /** The HTTP function that only talks to the cache. */
  readonly fetch: FetchLike;
  /** {@linkcode flattenMessages} without the cache's (secret) base URL in the text. */
  describe(error: unknown): string;
}

/**
 * Builds a provider source whose every request goes to an already running cache (its HTTP front
 * end), with package downloads handed over as committed cache files. `tfcache run` uses it to
 * pre-install providers with the cache it started for the command.
 *
 * @param runtime The running cache (not closed by the source).
 * @param options The cache directory, provider hosts and download observer.
 * @returns The source, its fetch and an error describer.
 */
export function providerSourceThroughCache(
  runtime: CacheRuntime,
  options: Pick<CachedProviderSourceOptions, "cacheDir" | "hosts" | "downloads">,
): ProviderSourceThroughCache {
  const base = runtime.httpBaseUrl.href;
  const fetchThroughCache: FetchLike = async (url: string | URL, init?: FetchLikeInit) => {
    const href = String(url);
    if (!href.startsWith(base)) throw new CacheBypassError(href);
    const response = await fetch(href, {
      ...(init?.method === undefined ? {} : { method: init.method }),
      ...(init?.headers === undefined ? {} : { headers: init.headers }),
      ...(init?.signal === undefined ? {} : { signal: init.signal }),
    });
    if (init?.purpose !== "artifact" && response.status >= 500) {
      const detail = (await response.text().catch(() => "")).trim().slice(0, 2000);
      throw new CacheRequestError(
        response.status,
        href.slice(base.length),
        detail || "(no detail)",
      );
    }
    if (
      init?.purpose !== "artifact" || options.downloads === undefined || response.body === null ||
      response.status !== 200
    ) {
      return response;
    }
    return _observed(response, options.downloads.started(href, _length(response)));
  };
  const store = new FileStore(options.cacheDir);
  const locateArtifact: ArtifactLocator = async (url, signal) => {
    const key = url.startsWith(base) ? _packageKey(url.slice(base.length)) : undefined;
    if (key === undefined) return undefined;
    let head: Response;
    try {
      head = await fetch(url, { method: "HEAD", ...(signal === undefined ? {} : { signal }) });
    } catch (error) {
      if (signal?.aborted) throw error;
      return undefined; // The download path reports the failure with the usual wording.
    }
    await head.body?.cancel();
    if (head.status !== 200) return undefined;
    const report = options.downloads?.started(url, _length(head));
    try {
      // The HEAD is answered as soon as upstream's headers arrive; wait for the fill to commit.
      await runtime.handler.idle(key);
      const info = await store.stat(key);
      if (info === undefined) return undefined;
      report?.(info.size, false);
      return { path: store.localPath(key), sha256: info.sha256, size: info.size };
    } finally {
      report?.(0, true);
    }
  };
  const locatingFetch = withArtifactLocator(fetchThroughCache, locateArtifact);
  const overrides: Record<string, Record<string, string>> = {};
  for (const host of options.hosts) {
    overrides[host] = { "providers.v1": providerServicesUrl(runtime.httpBaseUrl, host) };
  }
  const client = new ProviderRegistryClient({
    fetch: fetchThroughCache,
    discovery: new ServiceDiscovery({ fetch: fetchThroughCache, overrides }),
    // A cold cache may first have to reach a slow upstream.
    timeoutMs: 120_000,
  });
  const source = new RegistrySource({ client, fetch: locatingFetch });
  const describe = (error: unknown) => flattenMessages(error).replaceAll(base, "<tfcache>/");
  return { source, fetch: locatingFetch, describe };
}

/**
 * An error's message followed by its causes' (when they add something), on one line; when a
 * {@linkcode CacheRequestError} is in the chain, its message alone (the wrappers around it,
 * such as "could not connect", would mislead).
 *
 * @param error An error.
 * @returns The text.
 */
export function flattenMessages(error: unknown): string {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++) {
    if (e instanceof CacheRequestError) return e.message;
  }
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 6; depth++) {
    const message = current instanceof Error ? current.message : String(current);
    if (message !== "" && !parts.some((p) => p.includes(message))) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ");
}

/** The cache key of a provider package URL path (relative to the cache base), if it is one. */
function _packageKey(relative: string): string | undefined {
  let path: string;
  try {
    path = relative.split("?")[0]!.split("/").map(decodeURIComponent).join("/");
    const parsed = parseProviderPath(path);
    return parsed.kind === "zip" ? providerKeys.zip(parsed.coords) : undefined;
  } catch {
    return undefined;
  }
}

function _length(response: Response): number | undefined {
  const header = response.headers.get("content-length");
  if (header === null) return undefined;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function _observed(
  response: Response,
  report: (received: number, done: boolean) => void,
): Response {
  let received = 0;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    report(received, true);
  };
  const counted = response.body!.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        received += chunk.byteLength;
        report(received, false);
        controller.enqueue(chunk);
      },
      flush: end,
      cancel: end,
    }),
  );
  return new Response(counted, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

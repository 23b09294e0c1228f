/**
 * Assembles a running cache: the store, the upstream client, the mirrors, the handler and its
 * HTTP and HTTPS front ends on 127.0.0.1. Used by `tfcache run` (ephemeral ports, a per-run secret
 * path prefix) and `tfcache serve`.
 *
 * @module
 */

import { type CacheHandler, createCacheHandler } from "../proxy/cache_handler.ts";
import { FileStore } from "../proxy/file_store.ts";
import { serveHttp } from "../proxy/http_server.ts";
import { serveHttps } from "../proxy/https_server.ts";
import type { CacheStats } from "../proxy/stats.ts";
import { ensureServerCertificate, writeTrustBundle } from "../proxy/tls.ts";
import { createUpstreamClient, type CredentialsLookup } from "../proxy/upstream.ts";
import { DiscoveryMirror, discoveryThroughCache } from "../mirrors/discovery_mirror.ts";
import { GitMirror } from "../mirrors/git_mirror.ts";
import { ModuleMirror } from "../mirrors/module_mirror.ts";
import { ProviderMirror } from "../mirrors/provider_mirror.ts";
import { ServiceDiscovery } from "../registry/service_discovery.ts";

/** Options for {@linkcode startCacheRuntime}. */
export interface CacheRuntimeOptions {
  /** The cache root. */
  cacheDir: string;
  /** Upstream credentials by `hostname[:port]`. */
  credentials?: CredentialsLookup;
  /** Service overrides from the user's CLI-config host blocks (honoured for upstream discovery). */
  hostOverrides?: Record<string, Record<string, string>>;
  /** Where to write the per-run trust bundle (a private temp dir); implies `https`. */
  runDir?: string;
  /** Start the HTTPS front end (network mirror protocol needs HTTPS). Default: when `runDir` is set. */
  https?: boolean;
  /** Certificate and key (PEM) for HTTPS; default: the cache's self-signed loopback certificate. */
  tls?: { certPem: string; keyPem: string };
  /** Listen address; default 127.0.0.1. */
  hostname?: string;
  /** HTTP port; default 0 (ephemeral). */
  httpPort?: number;
  /** HTTPS port; default 0 (ephemeral). */
  httpsPort?: number;
  /** Per-run secret path segment; random when absent, `""` for none. */
  secret?: string;
  /** Metadata TTL override (ms). */
  metadataTtlMs?: number;
  /** Environment (for SSL_CERT_FILE and tokens); default the process environment. */
  env?: Record<string, string | undefined>;
  /** Diagnostics sink. */
  log?: (level: "debug" | "info" | "warn" | "error", message: string) => void;
  /** Hosts whose plain-HTTP git remotes the git mirror may fetch (`git::http://` sources). */
  gitPlainHttpHosts?: readonly string[];
}

/** A running cache. */
export interface CacheRuntime extends AsyncDisposable {
  /** Base URL of the plain-HTTP front end, with the secret prefix and a trailing slash. */
  readonly httpBaseUrl: URL;
  /** Base URL of the HTTPS front end (network mirror; git), when started. */
  readonly httpsBaseUrl: URL | undefined;
  /** Trust bundle (system roots + SSL_CERT_FILE + our certificate) for children, when HTTPS runs. */
  readonly trustBundlePath: string | undefined;
  /** The handler (for its stats). */
  readonly handler: CacheHandler;
  /** The run's counters. */
  readonly stats: CacheStats;
  /** Upstream discovery, shared by the mirrors. */
  readonly discovery: ServiceDiscovery;
  /** Stops the front ends, waits for fills, and closes the upstream client. */
  close(): Promise<void>;
}

/** Makes a URL-safe random secret for the per-run path prefix. */
export function randomSecret(): string {
  return crypto.getRandomValues(new Uint8Array(18)).toBase64({ alphabet: "base64url" });
}

/**
 * Starts the cache.
 *
 * @param options See {@linkcode CacheRuntimeOptions}.
 * @returns The running cache; close it when done.
 */
export async function startCacheRuntime(options: CacheRuntimeOptions): Promise<CacheRuntime> {
  const env = options.env ?? Deno.env.toObject();
  await Deno.mkdir(options.cacheDir, { recursive: true });
  const store = new FileStore(options.cacheDir);
  await store.sweep().catch(() => 0);
  const upstream = createUpstreamClient({
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    env,
  });
  const secret = options.secret ?? randomSecret();
  const pathPrefix = secret === "" ? "/" : `/${secret}/`;
  // Discovery documents are cached like any metadata (TTL, stale-if-error), through the
  // handler in process, so warm and offline runs need no discovery round trip.
  const discovery = new ServiceDiscovery({
    fetch: discoveryThroughCache(
      (request) => handler.handle(request),
      new URL(pathPrefix, "http://127.0.0.1/"),
      (url, init) => upstream(undefined)(url, init),
    ),
    ...(options.hostOverrides !== undefined ? { overrides: options.hostOverrides } : {}),
  });
  const mirrors = [
    new DiscoveryMirror(),
    new ProviderMirror({ store, discovery }),
    new ModuleMirror({ discover: (host) => discovery.modulesUrl(host) }),
    new GitMirror({
      root: options.cacheDir,
      plainHttpHosts: options.gitPlainHttpHosts ?? [],
      encodeColons: store.encodeColons,
    }),
  ];
  const handler = createCacheHandler({
    store,
    mirrors,
    upstream,
    pathPrefix,
    ...(options.metadataTtlMs !== undefined ? { metadataTtlMs: options.metadataTtlMs } : {}),
    ...(options.log !== undefined ? { log: options.log } : {}),
  });
  const hostname = options.hostname ?? "127.0.0.1";
  const http = serveHttp({ handler, hostname, port: options.httpPort ?? 0 });
  const httpBaseUrl = new URL(`http://${urlHost(hostname)}:${http.port}${pathPrefix}`);
  let https: Awaited<ReturnType<typeof serveHttps>> | undefined;
  let httpsBaseUrl: URL | undefined;
  let trustBundlePath: string | undefined;
  try {
    if (options.https ?? options.runDir !== undefined) {
      const cert = options.tls ?? await ensureServerCertificate(options.cacheDir);
      https = await serveHttps({
        handler: (request) => handler.handle(request),
        cert: cert.certPem,
        key: cert.keyPem,
        hostname,
        port: options.httpsPort ?? 0,
      });
      httpsBaseUrl = new URL(`https://${urlHost(hostname)}:${https.port}${pathPrefix}`);
      if (options.runDir !== undefined) {
        trustBundlePath = await writeTrustBundle(options.runDir, cert.certPem, env);
      }
    }
  } catch (error) {
    await handler.shutdown();
    await http.close();
    upstream.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await handler.shutdown();
      await Promise.all([http.close(), https?.close()]);
      upstream.close();
    })();
  return {
    httpBaseUrl,
    httpsBaseUrl,
    trustBundlePath,
    handler,
    stats: handler.stats,
    discovery,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function urlHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/**
 * Test environment for the provider mirror: the fake upstream registry, a real `FileStore` in a
 * temporary directory, the real cache handler, and an upstream fetch that trusts the fake's CA
 * and counts concurrent requests.
 *
 * @module
 */

import { type CacheHandler, createCacheHandler } from "../../../src/proxy/cache_handler.ts";
import { FileStore } from "../../../src/proxy/file_store.ts";
import type { UpstreamFetch, UpstreamFetchFactory } from "../../../src/proxy/route.ts";
import { ProviderMirror } from "../../../src/mirrors/provider_mirror.ts";
import { ServiceDiscovery } from "../../../src/registry/service_discovery.ts";
import {
  type FakeProviderConfig,
  type FakeRegistry,
  startFakeRegistry,
} from "../../support/fake_registry.ts";

/** Counts upstream requests in flight, per URL path pattern. */
export class InFlight {
  /** Requests in flight now. */
  current = 0;
  /** Most requests seen in flight at once. */
  max = 0;
  /** Every requested URL, in order. */
  readonly urls: string[] = [];

  /**
   * @param match Which URLs to count (all when absent).
   */
  constructor(readonly match: (url: string) => boolean = () => true) {}
}

/** A running test environment. */
export interface ProviderEnv extends AsyncDisposable {
  /** The fake upstream registry. */
  registry: FakeRegistry;
  /** The cache's store. */
  store: FileStore;
  /** The store's root directory. */
  storeDir: string;
  /** The mirror under test. */
  mirror: ProviderMirror;
  /** The real cache handler in front of it. */
  handler: CacheHandler;
  /** Counts `download-info` requests in flight. */
  downloads: InFlight;
  /** Counts every upstream request. */
  all: InFlight;
  /** Provider source host part, e.g. `127.0.0.1:4711`. */
  host: string;
  /** GET a cache path (no leading slash) through the handler, with a base URL origin. */
  get(path: string, origin?: string): Promise<Response>;
  /** Waits for background work (revalidations). */
  settled(): Promise<void>;
}

/** Default providers served by the fake. */
export const ALPHA: FakeProviderConfig = {
  namespace: "tfcache",
  type: "alpha",
  versions: ["1.0.0", "1.1.0"],
  platforms: ["linux_amd64", "darwin_arm64", "windows_amd64"],
};

/** A provider with a dashed type and relative URLs in its download documents. */
export const DASHED: FakeProviderConfig = {
  namespace: "tfcache",
  type: "multi-word",
  versions: ["2.0.0"],
  platforms: ["linux_amd64", "linux_arm64"],
  relativeDownloadUrl: true,
};

/** Twelve platforms, to observe bounded resolution. */
export const WIDE: FakeProviderConfig = {
  namespace: "tfcache",
  type: "wide",
  versions: ["0.1.0"],
  platforms: [
    "linux_amd64",
    "linux_arm64",
    "linux_386",
    "linux_arm",
    "darwin_amd64",
    "darwin_arm64",
    "windows_amd64",
    "windows_arm64",
    "windows_386",
    "freebsd_amd64",
    "freebsd_arm",
    "openbsd_amd64",
  ],
};

/**
 * Starts the environment.
 *
 * @param options Parallelism of the mirror and the providers to serve.
 * @returns The environment; dispose it to stop everything.
 */
export async function startProviderEnv(
  options: {
    parallelism?: number;
    providers?: FakeProviderConfig[];
    delayMs?: number;
    /** A port-less host name whose providers.v1 service is the fake registry's. */
    aliasHost?: string;
    /** Metadata TTL of the cache handler. */
    metadataTtlMs?: number;
  } = {},
): Promise<ProviderEnv> {
  const registry = await startFakeRegistry({
    providers: options.providers ?? [ALPHA, DASHED, WIDE],
  });
  const storeDir = await Deno.makeTempDir({ prefix: "tfcache-provider-mirror-" });
  const client = Deno.createHttpClient({ caCerts: [registry.caCertPem] });
  const downloads = new InFlight((u) => u.includes("/download/"));
  const all = new InFlight();
  const delayMs = options.delayMs ?? 0;
  const baseFetch: UpstreamFetch = async (url, init = {}) => {
    const href = String(url);
    const counters = [all, downloads].filter((c) => c.match(href));
    for (const c of counters) {
      c.urls.push(href);
      c.current++;
      c.max = Math.max(c.max, c.current);
    }
    try {
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      return await fetch(href, {
        method: init.method ?? "GET",
        ...(init.headers === undefined ? {} : { headers: init.headers }),
        ...(init.signal === undefined ? {} : { signal: init.signal }),
        client,
      });
    } finally {
      for (const c of counters) c.current--;
    }
  };
  const upstream: UpstreamFetchFactory = () => baseFetch;
  const store = new FileStore(storeDir);
  const discovery = new ServiceDiscovery({
    fetch: baseFetch,
    ...(options.aliasHost === undefined ? {} : {
      overrides: { [options.aliasHost]: { "providers.v1": `${registry.url}/v1/providers/` } },
    }),
  });
  const mirror = new ProviderMirror({
    store,
    discovery,
    ...(options.parallelism === undefined ? {} : { parallelism: options.parallelism }),
  });
  const handler = createCacheHandler({
    store,
    mirrors: [mirror],
    upstream,
    pathPrefix: "/",
    log: () => {},
    ...(options.metadataTtlMs === undefined ? {} : { metadataTtlMs: options.metadataTtlMs }),
  });
  const close = async () => {
    await handler.shutdown();
    client.close();
    await registry.close();
    await Deno.remove(storeDir, { recursive: true });
  };
  return {
    registry,
    store,
    storeDir,
    mirror,
    handler,
    downloads,
    all,
    host: registry.host,
    get: (path, origin = "http://127.0.0.1:1111") =>
      handler.handle(new Request(`${origin}/${path}`)),
    settled: () => handler.settled(),
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Reads a response as JSON, asserting status 200 and a JSON content type.
 *
 * @param response The response.
 * @returns The parsed body.
 */
export async function okJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (response.status !== 200) {
    throw new Error(`Expected 200, got ${response.status}: ${text}`);
  }
  const type = response.headers.get("content-type") ?? "";
  if (!type.startsWith("application/json")) throw new Error(`Expected JSON, got "${type}"`);
  return JSON.parse(text);
}

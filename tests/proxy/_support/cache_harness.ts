/**
 * A cache handler over a fresh cache directory, shared by the caching core tests.
 *
 * @module
 */

import { type CacheHandlerOptions, createCacheHandler } from "../../../src/proxy/cache_handler.ts";
import { FileStore } from "../../../src/proxy/file_store.ts";
import type { Route } from "../../../src/proxy/route.ts";
import { plainUpstream, testMirror, type TestUpstream } from "./fixtures.ts";

/** The base URL requests are made against. */
export const BASE = "http://cache.test/";

/** What {@linkcode withCache} hands the test. */
export interface Harness {
  /** The cache directory. */
  root: string;
  /** The store over `root`. */
  store: FileStore;
  /** The handler under test. */
  handler: ReturnType<typeof createCacheHandler>;
  /** Sends a request for `BASE + path` to the handler. */
  get(path: string, init?: RequestInit): Promise<Response>;
  /** `level: message` lines the handler logged. */
  logs: string[];
}

/** Options of {@linkcode withCache}: handler options, plus the store's clock. */
export type HarnessOptions = Partial<CacheHandlerOptions> & { storeNow?: () => number };

/**
 * Runs `fn` with a cache handler over a fresh cache dir; always shuts the handler down, closes
 * the upstream and removes the directory.
 *
 * @param upstream The upstream to close at the end, if any.
 * @param toRoute Maps each path to its route.
 * @param fn The test body.
 * @param extra Handler options that replace the defaults, and `storeNow`.
 */
export async function withCache(
  upstream: TestUpstream | undefined,
  toRoute: (path: string) => Route,
  fn: (h: Harness) => Promise<void>,
  extra: HarnessOptions = {},
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "tfcache-handler-" });
  const { storeNow, ...handlerOptions } = extra;
  const store = new FileStore(root, storeNow ? { now: storeNow } : {});
  const logs: string[] = [];
  const handler = createCacheHandler({
    store,
    mirrors: [testMirror((path) => toRoute(path))],
    upstream: plainUpstream,
    log: (level, message) => logs.push(`${level}: ${message}`),
    ...handlerOptions,
  });
  try {
    await fn({
      root,
      store,
      handler,
      logs,
      get: (path, init) => handler.handle(new Request(BASE + path, init)),
    });
  } finally {
    await handler.shutdown();
    await upstream?.close();
    await Deno.remove(root, { recursive: true });
  }
}

/**
 * Routes every path to an artifact at `upstream.url + name`.
 *
 * @param upstream The upstream.
 * @param name The upstream path (no leading slash).
 * @param extra Route fields to add or replace.
 * @returns The route mapper.
 */
export function artifactRoute(
  upstream: TestUpstream,
  name = "obj.bin",
  extra: Partial<Route> = {},
): (path: string) => Route {
  return (path) => ({
    key: path,
    kind: "artifact",
    upstream: { url: upstream.url + name },
    ...extra,
  });
}

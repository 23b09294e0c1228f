/**
 * Shared fixtures for the caching core tests: a counting upstream server, a one-route mirror and
 * a plain-fetch upstream factory.
 *
 * @module
 */

import type {
  Mirror,
  Route,
  RouteContext,
  UpstreamFetch,
  UpstreamFetchFactory,
  UpstreamFetchInit,
} from "../../../src/proxy/route.ts";

/** A local upstream HTTP server that counts requests per path. */
export interface TestUpstream {
  /** Base URL with a trailing slash. */
  url: string;
  /** Bound port. */
  port: number;
  /** Requests seen for `path` (e.g. `/big.bin`). */
  count(path: string): number;
  /** Requests seen in total. */
  total(): number;
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Starts a counting upstream on 127.0.0.1:0.
 *
 * @param respond Answers each request; `n` is the 1-based request number for that path.
 * @returns The running upstream.
 */
export function startUpstream(
  respond: (request: Request, n: number) => Response | Promise<Response>,
): TestUpstream {
  const counts = new Map<string, number>();
  let total = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    const n = (counts.get(path) ?? 0) + 1;
    counts.set(path, n);
    total++;
    return respond(request, n);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    port: server.addr.port,
    count: (path) => counts.get(path) ?? 0,
    total: () => total,
    close: async () => {
      await server.shutdown();
    },
  };
}

/** An upstream fetch factory over plain `fetch` (no header propagation). */
export const plainUpstream: UpstreamFetchFactory = (): UpstreamFetch => plainFetch;

function plainFetch(url: string | URL, init?: UpstreamFetchInit): Promise<Response> {
  return fetch(url, {
    method: init?.method ?? "GET",
    ...(init?.headers ? { headers: init.headers } : {}),
    ...(init?.signal ? { signal: init.signal } : {}),
  });
}

/**
 * A mirror that handles every path and maps it with `toRoute`.
 *
 * @param toRoute Maps the decoded path to a route.
 * @returns The mirror.
 */
export function testMirror(
  toRoute: (path: string, request: Request, ctx: RouteContext) => Route | Promise<Route>,
): Mirror {
  return {
    name: "test",
    handles: () => true,
    route: async (request, path, ctx) => await toRoute(path, request, ctx),
  };
}

/**
 * Deterministic pseudo-random bytes.
 *
 * @param size Length.
 * @param seed Seed.
 * @returns The bytes.
 */
export function patternBytes(size: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Hex SHA-256 of `bytes`.
 *
 * @param bytes Input.
 * @returns Lowercase hex digest.
 */
export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).toHex();
}

/**
 * Every file under `dir`, relative, sorted (empty when `dir` does not exist).
 *
 * @param dir Directory to walk.
 * @returns Relative file paths.
 */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    try {
      for await (const entry of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
        const path = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory) await walk(path);
        else out.push(path);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  };
  await walk("");
  return out.sort();
}

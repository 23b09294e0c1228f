/**
 * Test support for the registry client tests: fixture paths and a local HTTP server that plays
 * one or more registry hosts.
 *
 * @module
 */

import type { FetchLike } from "../../../src/registry/fetch_like.ts";

/** `shared/fixtures/` beside the repository. */
export const FIXTURES = new URL("../../../../shared/fixtures/", import.meta.url);
/** `shared/fixtures/signing/`. */
export const SIGNING = new URL("signing/", FIXTURES);
/** `shared/fixtures/registry/`. */
export const REGISTRY = new URL("registry/", FIXTURES);
/** `shared/fixtures/dirhash/`. */
export const DIRHASH = new URL("dirhash/", FIXTURES);

/** Reads a fixture as bytes. */
export function fixtureBytes(dir: URL, name: string): Promise<Uint8Array<ArrayBuffer>> {
  return Deno.readFile(new URL(name, dir));
}

/** Reads a fixture as text. */
export function fixtureText(dir: URL, name: string): Promise<string> {
  return Deno.readTextFile(new URL(name, dir));
}

/** A request as the fake registry saw it. */
export interface SeenRequest {
  /** Host the client asked for (before the test fetch rewrote it). */
  host: string;
  /** Path and query. */
  path: string;
  /** Request headers. */
  headers: Headers;
}

/** A running fake registry. */
export interface FakeRegistry {
  /** Base URL of the local server, e.g. `http://127.0.0.1:1234`. */
  origin: string;
  /** A fetch that sends `https://<any host>/<path>` to the local server (host kept in a header). */
  fetch: FetchLike;
  /** Every request seen, in order. */
  requests: SeenRequest[];
  /** Stops the server. */
  close(): Promise<void>;
}

/** Answers one request of the fake registry; `host` is the host the client asked for. */
export type FakeHandler = (
  host: string,
  path: string,
  request: Request,
) => Response | Promise<Response>;

/**
 * Starts a fake registry on 127.0.0.1:0.
 *
 * @param handler Answers each request.
 * @returns The running registry.
 */
export function startFakeRegistry(handler: FakeHandler): FakeRegistry {
  const requests: SeenRequest[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const host = req.headers.get("x-test-host") ?? url.host;
    const path = url.pathname + url.search;
    requests.push({ host, path, headers: req.headers });
    await req.body?.cancel();
    return await handler(host, path, req);
  });
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const fetchFn: FetchLike = (input, init) => {
    const url = new URL(input);
    const headers = { ...(init?.headers ?? {}) };
    let target = url;
    if (url.origin !== origin) {
      headers["x-test-host"] = url.host;
      target = new URL(url.pathname + url.search, origin);
    }
    return fetch(target, {
      method: init?.method ?? "GET",
      headers,
      ...(init?.signal === undefined ? {} : { signal: init.signal }),
    });
  };
  return {
    origin,
    fetch: fetchFn,
    requests,
    close: () => server.shutdown(),
  };
}

/** A JSON response with `application/json`. */
export function json(body: unknown, status = 200): Response {
  return new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** A JSON response whose body is a fixture file's exact bytes. */
export async function jsonFixture(dir: URL, name: string): Promise<Response> {
  return new Response(await fixtureBytes(dir, name), {
    headers: { "content-type": "application/json" },
  });
}

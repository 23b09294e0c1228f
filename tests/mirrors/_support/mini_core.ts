/**
 * A minimal in-memory stand-in for the caching core (src/proxy/cache_handler.ts), enough to
 * drive mirrors end to end in tests: route → (miss: produce/produceArtifact/upstream) → serve,
 * metadata TTL with stale-if-error, artifacts forever, passthrough uncached.
 *
 * @module
 */

import { HttpError, UpstreamStatusError } from "../../../src/proxy/errors.ts";
import type { CachedObject, Mirror, ObjectInfo, RouteContext } from "../../../src/proxy/route.ts";

interface Entry {
  bytes: Uint8Array;
  info: ObjectInfo;
}

/** Options for {@linkcode MiniCore}. */
export interface MiniCoreOptions {
  /** Metadata TTL in ms (default: forever). */
  ttlMs?: number;
  /** Upstream fetch used by mirrors (default: global fetch). */
  fetch?: typeof fetch;
}

/** In-memory caching core for tests. */
export class MiniCore implements AsyncDisposable {
  readonly objects = new Map<string, Entry>();
  readonly fills: string[] = [];
  readonly #mirrors: Mirror[];
  readonly #options: MiniCoreOptions;
  readonly #abort = new AbortController();
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  /** Base URL, with a secret prefix. */
  readonly baseUrl: URL;

  constructor(mirrors: Mirror[], options: MiniCoreOptions = {}) {
    this.#mirrors = mirrors;
    this.#options = options;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => this.handle(req),
    );
    this.baseUrl = new URL(`http://127.0.0.1:${this.#server.addr.port}/s3cr3t/`);
  }

  async handle(req: Request): Promise<Response> {
    try {
      return await this.#handle(req);
    } catch (e) {
      if (e instanceof HttpError) {
        return new Response(e.message, { status: e.status, headers: e.headers });
      }
      if (e instanceof UpstreamStatusError) {
        return new Response(e.body.slice(), { status: e.status });
      }
      return new Response(`routing failed: ${e instanceof Error ? e.message : e}`, { status: 502 });
    }
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const prefix = this.baseUrl.pathname;
    if (!url.pathname.startsWith(prefix)) return new Response("no secret", { status: 404 });
    const path = decodeURIComponent(url.pathname.slice(prefix.length));
    const mirror = this.#mirrors.find((m) => m.handles(path));
    if (mirror === undefined) return new Response("no mirror", { status: 404 });
    const f = this.#options.fetch ?? fetch;
    const ctx: RouteContext = {
      fetch: (u, init) =>
        f(u, {
          ...(init?.method === undefined ? {} : { method: init.method }),
          ...(init?.headers === undefined ? {} : { headers: init.headers }),
          ...(init?.signal === undefined ? {} : { signal: init.signal }),
        }),
      signal: this.#abort.signal,
      baseUrl: this.baseUrl,
    };
    const route = await mirror.route(req, path, ctx);
    if (route.kind === "passthrough") {
      const r = await ctx.fetch(route.upstream?.url ?? "");
      return new Response(r.body, { status: r.status, headers: r.headers });
    }
    let entry = this.objects.get(route.key);
    const ttl = this.#options.ttlMs ?? Infinity;
    const stale = entry !== undefined && route.kind === "metadata" &&
      Date.now() - entry.info.fetchedAt.getTime() > ttl;
    if (entry === undefined || stale) {
      try {
        this.fills.push(route.key);
        let bytes: Uint8Array;
        let contentType = route.contentType ?? "application/octet-stream";
        if (route.produceArtifact !== undefined) {
          const a = await route.produceArtifact(ctx);
          bytes = new Uint8Array(await new Response(a.stream).arrayBuffer());
          contentType = a.contentType;
        } else if (route.produce !== undefined) {
          const p = await route.produce(ctx);
          bytes = p.body;
          contentType = p.contentType;
        } else {
          const r = await ctx.fetch(route.upstream?.url ?? "");
          bytes = new Uint8Array(await r.arrayBuffer());
          if (!r.ok) {
            throw new UpstreamStatusError(r.status, route.upstream?.url ?? "", r.headers, bytes);
          }
        }
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.slice())).toHex();
        entry = {
          bytes,
          info: {
            key: route.key,
            size: bytes.byteLength,
            sha256: digest,
            kind: route.kind,
            contentType,
            fetchedAt: new Date(),
            extra: {},
          },
        };
        this.objects.set(route.key, entry);
      } catch (e) {
        if (entry === undefined) throw e; // stale-if-error otherwise
      }
    }
    const object: CachedObject = { meta: entry.info, bytes: () => Promise.resolve(entry.bytes) };
    if (route.serve !== undefined) return await route.serve(object, ctx, req);
    return new Response(req.method === "HEAD" ? null : entry.bytes.slice(), {
      headers: { "Content-Type": route.contentType ?? entry.info.contentType },
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#abort.abort();
    await this.#server.shutdown();
  }
}

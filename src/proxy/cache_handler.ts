/**
 * The protocol-agnostic caching request handler.
 *
 * Flow per request: check the per-run path prefix, decode and validate the path, find the first
 * mirror that handles it, ask it for a {@linkcode Route}, then:
 *
 * - passthrough: one upstream request, headers rewritten, body streamed through, nothing cached;
 * - cacheable, tier 1: `stat` without locks; a servable object is streamed from the store (stale
 *   metadata inside the stale-while-revalidate window also starts a background revalidation);
 * - cacheable, tier 2: an in-process single flight per key runs one detached fill on the
 *   handler's own abort signal (a client leaving never cancels it);
 * - tier 3, inside the fill: the store's cross-process lock, a re-check, then
 *   `produceArtifact` > `produce` > `upstream`, and `store.commit` with the route's `verify`.
 *   Waiters are served from the store once the commit succeeded, except for the live path below.
 * - After the commit, the route's `annotate` hook (e.g. a provider zip's `h1:`) runs in the
 *   background and its fields are merged into the sidecar with `store.annotate`; `settled()` and
 *   `shutdown()` wait for it, and `idle(key)` waits for one key's fill and annotation.
 *
 * Serving while filling (artifacts, plain GET/HEAD without `Range`/`If-None-Match`, stores with
 * the `onStaged` capability): a miss fill publishes a {@linkcode LiveFill}. As soon as staging
 * began (the upstream answered 2xx), a HEAD waiter is answered with `200` and the announced
 * `Content-Length` (when there is one), and a GET waiter streams the staged bytes as they are
 * written, withholding the tail (everything past `size - 1`, or the last 64 KiB when the size is
 * unknown) until the store reports the commit. If the fill fails, that stream is errored, so the
 * client sees a truncated body and never a complete object that failed verification. Waiters in
 * other processes still wait for the lock and serve the committed object.
 *
 * Upstream non-2xx answers reach every waiter unchanged and are never cached. Failed metadata
 * refetches fall back to a stale copy inside the stale-if-error window.
 *
 * @module
 */

import { abortable } from "../_shared/abortable.ts";
import { readBounded } from "../_shared/bytes.ts";
import { HOP_BY_HOP, NULL_BODY_STATUSES } from "./_http_constants.ts";
import { decodeRequestPath, validateKey } from "./cache_key.ts";
import {
  HttpError,
  IntegrityError,
  InvalidKeyError,
  ShuttingDownError,
  UpstreamError,
  UpstreamStatusError,
} from "./errors.ts";
import {
  DEFAULT_FRESHNESS,
  type FreshnessPolicy,
  isFresh,
  isServable,
  isWithinStaleIfError,
} from "./freshness.ts";
import type {
  CachedObject,
  Mirror,
  ObjectInfo,
  Route,
  RouteContext,
  UpstreamFetch,
  UpstreamFetchFactory,
} from "./route.ts";
import { SingleFlight } from "./singleflight.ts";
import { CacheStats } from "./stats.ts";
import { announcedSize } from "./upstream.ts";
import type { HeldLock, StagedObject, StagedReader, Store } from "./store.ts";

/** Log severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Receives the handler's log lines. */
export type CacheLogger = (level: LogLevel, message: string) => void;

/** Options for {@linkcode createCacheHandler}. */
export interface CacheHandlerOptions {
  /** Where objects are cached. */
  store: Store;
  /** Protocol adapters, consulted in order. */
  mirrors: readonly Mirror[];
  /** Builds the propagated upstream fetch for an inbound request. */
  upstream: UpstreamFetchFactory;
  /**
   * Per-run secret path prefix, e.g. `/Xk3q…/`. Requests outside it get a bare 404. Default `/`.
   */
  pathPrefix?: string;
  /** Public base URL for a request; default: the request's origin plus `pathPrefix`. */
  publicBaseUrl?: (request: Request) => URL;
  /** Metadata TTL; default 10 minutes (see `freshness.ts`). `<= 0` means fresh forever. */
  metadataTtlMs?: number;
  /** Stale-while-revalidate window past the TTL; default 7 days. */
  staleWhileRevalidateMs?: number;
  /** Stale-if-error window past the TTL; default 7 days. */
  staleIfErrorMs?: number;
  /** Clock in epoch milliseconds; `Date.now` by default. */
  now?: () => number;
  /** Log sink; by default warnings and errors go to `console.error`. */
  log?: CacheLogger;
  /** Counters to update; a fresh {@linkcode CacheStats} by default. */
  stats?: CacheStats;
}

/** A running cache handler. */
export interface CacheHandler {
  /** Answers one request (never throws). */
  handle(request: Request): Promise<Response>;
  /**
   * Refuses new fills (503), aborts in-flight fills and waits for them and for background
   * revalidations. Safe to call more than once. Once it resolves, no background work touches
   * the store.
   */
  shutdown(): Promise<void>;
  /**
   * Waits until in-flight fills, background revalidations and post-commit annotations (running
   * now) have finished.
   */
  settled(): Promise<void>;
  /**
   * Waits until the fill and the post-commit annotation of one key (running now) have finished,
   * e.g. to read a sidecar field an `annotate` hook adds.
   *
   * @param key Cache key.
   */
  idle(key: string): Promise<void>;
  /** Per-run counters. */
  readonly stats: CacheStats;
  /** Aborted by `shutdown()`; fills and route hooks run on it. */
  readonly signal: AbortSignal;
}

/** What a fill tells its waiters. */
type FillOutcome =
  | { type: "stored" }
  | { type: "stale"; reason: string }
  | {
    type: "replay";
    status: number;
    statusText: string;
    headers: Headers;
    body: Uint8Array<ArrayBuffer>;
  }
  | { type: "error"; status: number; message: string; headers?: Record<string, string> };

/** What a route's producer yielded on a successful fetch. */
interface Produced {
  stream: ReadableStream<Uint8Array>;
  contentType: string;
  extra?: Record<string, unknown>;
  /** Exact byte count when announced (uncompressed `Content-Length`). */
  size?: number;
}

/** The staged body of a miss fill in progress, offered to in-process waiters. */
interface LiveBody {
  staged: StagedObject;
  /** Exact size when announced; `undefined` when upstream sent no usable `Content-Length`. */
  size: number | undefined;
  contentType: string;
}

/**
 * A miss fill of an artifact in progress, as its in-process waiters see it. `body` resolves
 * with the staged body once the store began staging (so upstream answered 2xx), or with
 * `undefined` when the fill ends without offering one (hit after the lock, non-2xx, error, or a
 * store without the staging capability); waiters then wait for the fill's outcome.
 */
class LiveFill {
  #body = Promise.withResolvers<LiveBody | undefined>();
  /** Resolves once; see the class documentation. */
  readonly body: Promise<LiveBody | undefined> = this.#body.promise;
  /** Whether a waiter streamed a body from this fill (that body is the download, not a saving). */
  bodyServed = false;

  offer(body: LiveBody): void {
    this.#body.resolve(body);
  }

  close(): void {
    this.#body.resolve(undefined);
  }
}

/**
 * A waiter is answered live only once this many bytes are staged: smaller objects are served
 * after their commit, so that their failures keep a proper error status (and a live answer only
 * happens when it saves real time).
 */
const LIVE_START_BYTES = 1024 * 1024;
/** Bytes withheld from a live stream of unknown size until the commit succeeded. */
const LIVE_HOLD_BYTES = 64 * 1024;
/** Largest chunk read from a staged file at once. */
const LIVE_READ_CHUNK = 128 * 1024;

const REPLAY_BODY_LIMIT = 1024 * 1024;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A plain-text error response in the style of Go's `http.Error`. */
function textResponse(
  status: number,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(`${message}\n`, {
    status,
    headers: {
      ...headers,
      "Content-Type": "text/plain; charset=utf-8",
      "X-Content-Type-Options": "nosniff",
    },
  });
}

/** The raw (undecoded, unnormalised) path of a request URL string. */
function rawPathOf(url: string): string {
  const schemeEnd = url.indexOf("://");
  const start = url.indexOf("/", schemeEnd < 0 ? 0 : schemeEnd + 3);
  if (start < 0) return "/";
  let end = url.length;
  for (const mark of ["?", "#"]) {
    const at = url.indexOf(mark, start);
    if (at >= 0 && at < end) end = at;
  }
  return url.slice(start, end);
}

function normalisePrefix(prefix: string | undefined): string {
  let value = prefix ?? "/";
  if (!value.startsWith("/")) value = `/${value}`;
  if (!value.endsWith("/")) value = `${value}/`;
  return value;
}

/** Upstream headers safe to replay to a client (after Deno's transparent decompression). */
function replayHeaders(source: Headers): Headers {
  const headers = new Headers(source);
  for (const name of HOP_BY_HOP) headers.delete(name);
  if (headers.has("content-encoding")) {
    headers.delete("content-encoding");
    headers.delete("content-length");
  }
  return headers;
}

/** Wraps a stream and reports the bytes the consumer actually pulled. */
function countingStream(
  source: ReadableStream<Uint8Array>,
  onBytes: (count: number) => void,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          return;
        }
        onBytes(value.byteLength);
        controller.enqueue(value);
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel(reason) {
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** Whether an `If-None-Match` header matches the strong ETag `etag`. */
function ifNoneMatches(header: string | null, etag: string): boolean {
  if (header === null) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((candidate) => candidate.trim().replace(/^W\//, "") === etag);
}

/**
 * Parses a single-range `Range` header against an object of `size` bytes.
 *
 * @returns `undefined` to serve the whole object (absent, malformed or multi-range header),
 * the inclusive range, or `"unsatisfiable"`.
 */
function parseRange(
  header: string | null,
  size: number,
): { start: number; end: number } | "unsatisfiable" | undefined {
  if (header === null) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return undefined;
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return undefined;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== "" && Number(last) < start) return undefined;
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

/**
 * Creates the caching handler.
 *
 * @param options Store, mirrors, upstream fetch factory, path prefix and freshness windows.
 * @returns The handler; call `shutdown()` before discarding it.
 * @example
 * ```ts
 * import { createCacheHandler } from "./cache_handler.ts";
 * import { FileStore } from "./file_store.ts";
 *
 * const handler = createCacheHandler({
 *   store: new FileStore(await Deno.makeTempDir()),
 *   mirrors: [{
 *     name: "example",
 *     handles: (path) => path.startsWith("files/"),
 *     route: (_request, path) =>
 *       Promise.resolve({ key: path, kind: "artifact", upstream: { url: `https://example.com/${path}` } }),
 *   }],
 *   upstream: () => (url, init) => fetch(url, { method: init?.method ?? "GET" }),
 * });
 * const response = await handler.handle(new Request("http://127.0.0.1/files/a.zip"));
 * await response.body?.cancel();
 * await handler.shutdown();
 * ```
 */
export function createCacheHandler(options: CacheHandlerOptions): CacheHandler {
  const { store, mirrors, upstream } = options;
  const prefix = normalisePrefix(options.pathPrefix);
  const stats = options.stats ?? new CacheStats();
  /** Keys committed by this handler whose bytes no client has received yet. */
  const unservedFills = new Set<string>();
  const clock = options.now ?? Date.now;
  const log: CacheLogger = options.log ?? ((level, message) => {
    if (level === "warn" || level === "error") console.error(`tfcache: ${message}`);
  });
  const policy: FreshnessPolicy = {
    metadataTtlMs: options.metadataTtlMs ?? DEFAULT_FRESHNESS.metadataTtlMs,
    staleWhileRevalidateMs: options.staleWhileRevalidateMs ??
      DEFAULT_FRESHNESS.staleWhileRevalidateMs,
    staleIfErrorMs: options.staleIfErrorMs ?? DEFAULT_FRESHNESS.staleIfErrorMs,
  };
  const lifetime = new AbortController();
  const flights = new SingleFlight<FillOutcome>();
  /** Miss fills of artifacts in progress, for serving while filling. */
  const liveFills = new Map<string, LiveFill>();
  /** Post-commit annotations in progress. */
  const annotations = new Map<string, Promise<void>>();
  const background = new Set<Promise<unknown>>();
  let closing = false;

  function track<T>(promise: Promise<T>): Promise<T> {
    background.add(promise);
    const forget = () => background.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  function countedFetch(fetch: UpstreamFetch): UpstreamFetch {
    return (url, init) => {
      stats.upstreamRequests++;
      return fetch(url, init);
    };
  }

  function fail(status: number, message: string, headers?: Record<string, string>): Response {
    stats.errors++;
    return textResponse(status, message, headers);
  }

  async function statQuietly(key: string): Promise<ObjectInfo | undefined> {
    try {
      return await store.stat(key);
    } catch (error) {
      log("warn", `Cannot read metadata of "${key}": ${messageOf(error)}`);
      return undefined;
    }
  }

  async function readObject(key: string): Promise<Uint8Array> {
    const opened = await store.open(key);
    return new Uint8Array(await new Response(opened.body).arrayBuffer());
  }

  // ---- Fills -------------------------------------------------------------------------------

  async function replayOutcome(response: Response): Promise<FillOutcome> {
    const body = await readBounded(response.body, REPLAY_BODY_LIMIT, { truncate: true });
    return {
      type: "replay",
      status: response.status,
      statusText: response.statusText,
      headers: replayHeaders(response.headers),
      body,
    };
  }

  async function obtain(route: Route, ctx: RouteContext): Promise<Produced | FillOutcome> {
    if (route.produceArtifact) {
      const artifact = await route.produceArtifact(ctx);
      return {
        stream: artifact.stream,
        contentType: route.contentType ?? artifact.contentType,
        ...(artifact.size !== undefined ? { size: artifact.size } : {}),
      };
    }
    if (route.produce) {
      const produced = await route.produce(ctx);
      return {
        stream: ReadableStream.from([produced.body]),
        contentType: route.contentType ?? produced.contentType,
        ...(produced.extra ? { extra: produced.extra } : {}),
      };
    }
    if (route.upstream) {
      const { url, method, headers } = route.upstream;
      const response = await ctx.fetch(url, {
        method: method ?? "GET",
        ...(headers ? { headers } : {}),
        signal: ctx.signal,
        purpose: route.kind === "artifact" ? "artifact" : "metadata",
      });
      if (response.status < 200 || response.status >= 300) return await replayOutcome(response);
      const body = response.body ?? ReadableStream.from<Uint8Array>([]);
      const size = announcedSize(response.headers);
      return {
        stream: countingStream(body, (count) => stats.upstreamBytes += count),
        contentType: route.contentType ?? response.headers.get("content-type") ??
          "application/octet-stream",
        ...(size !== undefined ? { size } : {}),
      };
    }
    throw new Error(
      `Cannot fill "${route.key}": the route has no upstream request, produce or produceArtifact hook`,
    );
  }

  function errorOutcome(error: unknown, key: string): FillOutcome {
    if (lifetime.signal.aborted || error instanceof ShuttingDownError) {
      return {
        type: "error",
        status: 503,
        message: `Cannot fill "${key}": the cache server is shutting down`,
      };
    }
    if (error instanceof UpstreamStatusError) {
      return {
        type: "replay",
        status: error.status,
        statusText: "",
        headers: replayHeaders(error.headers),
        body: new Uint8Array(error.body),
      };
    }
    if (error instanceof HttpError) {
      return {
        type: "error",
        status: error.status,
        message: error.message,
        headers: error.headers,
      };
    }
    if (error instanceof InvalidKeyError) {
      return { type: "error", status: 400, message: error.message };
    }
    if (error instanceof IntegrityError || error instanceof UpstreamError) {
      return { type: "error", status: 502, message: `Cannot cache "${key}": ${error.message}` };
    }
    return { type: "error", status: 502, message: `Cannot fill "${key}": ${messageOf(error)}` };
  }

  /** Replaces a 5xx outcome by "serve the stale copy" when stale-if-error allows it. */
  function withStaleFallback(
    route: Route,
    outcome: FillOutcome,
    current: ObjectInfo | undefined,
  ): FillOutcome {
    if (outcome.type !== "error" && outcome.type !== "replay") return outcome;
    if (!current || route.kind !== "metadata" || outcome.status < 500) return outcome;
    if (lifetime.signal.aborted) return outcome;
    if (!isWithinStaleIfError(route.kind, current, policy, clock())) return outcome;
    const reason = outcome.type === "error"
      ? outcome.message
      : `upstream answered ${outcome.status}`;
    log("warn", `Serving stale "${route.key}": ${reason}`);
    return { type: "stale", reason };
  }

  async function fill(
    route: Route,
    inbound: Request,
    baseUrl: URL,
    mode: "miss" | "revalidate",
    live?: LiveFill,
  ): Promise<FillOutcome> {
    const { key } = route;
    const signal = lifetime.signal;
    let lock: HeldLock | undefined;
    let current: ObjectInfo | undefined;
    let committed: ObjectInfo | undefined;
    try {
      lock = await store.lock(key, signal);
      current = await statQuietly(key);
      if (current) {
        const now = clock();
        if (isFresh(route.kind, current, policy, now)) return { type: "stored" };
        if (mode === "miss" && isServable(route.kind, current, policy, now)) {
          return { type: "stored" };
        }
      }
      const ctx: RouteContext = { fetch: countedFetch(upstream(inbound)), signal, baseUrl };
      const produced = await obtain(route, ctx);
      if ("type" in produced) {
        stats.misses++;
        return withStaleFallback(route, produced, current);
      }
      const { size } = produced;
      const info = await store.commit(key, produced.stream, {
        kind: route.kind,
        contentType: produced.contentType,
        ...(route.verify ? { verify: route.verify } : {}),
        ...(produced.extra ? { extra: produced.extra } : {}),
        ...(size !== undefined ? { expectedSize: size } : {}),
        ...(live
          ? {
            onStaged: (staged: StagedObject) =>
              live.offer({ staged, size, contentType: produced.contentType }),
          }
          : {}),
        signal,
      });
      committed = info;
      stats.misses++;
      stats.objectsCached++;
      stats.bytesCached += info.size;
      // The first body served from this fill is the download itself, not a saving (terraform
      // sends HEAD, which fills, then GET; the GET must not count as a hit). A waiter that
      // streamed it live already was that download.
      if (!live?.bodyServed) unservedFills.add(key);
      log("debug", `Cached "${key}" (${info.size} bytes)`);
      return { type: "stored" };
    } catch (error) {
      const outcome = errorOutcome(error, key);
      if (outcome.type === "replay") stats.misses++;
      else log("warn", `Cannot fill "${key}": ${messageOf(error)}`);
      return withStaleFallback(route, outcome, current);
    } finally {
      try {
        await lock?.release();
      } catch (error) {
        log("error", `Cannot release the lock of "${key}": ${messageOf(error)}`);
      }
      live?.close();
      if (liveFills.get(key) === live) liveFills.delete(key);
      if (committed) startAnnotation(route, committed);
    }
  }

  /** Runs the route's `annotate` hook on a just-committed object, in the background. */
  function startAnnotation(route: Route, info: ObjectInfo): void {
    const { annotate } = route;
    const path = store.localPath?.(info.key);
    if (!annotate || path === undefined) return;
    const { key, sha256, size } = info;
    const run = (async () => {
      try {
        const extra = await annotate({ key, sha256, size, path });
        if (!(await store.annotate(key, sha256, extra))) {
          log("debug", `Not annotating "${key}": the object was replaced or removed`);
        }
      } catch (error) {
        log("warn", `Cannot annotate "${key}": ${messageOf(error)}`);
      }
    })();
    annotations.set(key, run);
    track(run).finally(() => {
      if (annotations.get(key) === run) annotations.delete(key);
    });
  }

  function startRevalidation(route: Route, inbound: Request, baseUrl: URL): void {
    if (closing || flights.has(route.key)) return;
    stats.revalidations++;
    log("debug", `Revalidating "${route.key}" in the background`);
    const flight = flights.run(
      route.key,
      () => track(fill(route, inbound, baseUrl, "revalidate")),
    );
    track(flight.then((outcome) => {
      if (outcome.type !== "stored") {
        const detail = outcome.type === "replay"
          ? `upstream answered ${outcome.status}`
          : outcome.type === "stale"
          ? outcome.reason
          : outcome.message;
        log("warn", `Cannot revalidate "${route.key}", keeping the cached copy: ${detail}`);
      }
    }));
  }

  // ---- Serving -----------------------------------------------------------------------------

  function staleHeaders(headers: Headers): void {
    headers.set("Warning", '110 - "Response is stale"');
    headers.set("X-Tfcache-Stale", "1");
  }

  /** Serves the committed object for `route`; `undefined` when the store has none. */
  async function serveStored(
    request: Request,
    route: Route,
    ctx: RouteContext,
    how: { hit: boolean; stale: boolean },
  ): Promise<Response | undefined> {
    const { key } = route;
    const account = (body: ReadableStream<Uint8Array> | null) => {
      if (how.stale) stats.staleServed++;
      const firstServeOfFill = body !== null && unservedFills.delete(key);
      if (!how.hit || firstServeOfFill) return body;
      stats.hits++;
      if (!body) return body;
      return countingStream(body, (count) => stats.bytesSaved += count);
    };

    if (route.serve) {
      const meta = await statQuietly(key);
      if (!meta) return undefined;
      const object: CachedObject = { meta, bytes: () => readObject(key) };
      const rendered = await route.serve(object, ctx, request);
      const headers = new Headers(rendered.headers);
      if (how.stale) staleHeaders(headers);
      const body = request.method === "HEAD" ? null : rendered.body;
      if (!body) await rendered.body?.cancel();
      return new Response(account(body), {
        status: rendered.status,
        statusText: rendered.statusText,
        headers,
      });
    }

    for (let attempt = 0; attempt < 3; attempt++) {
      const info = await statQuietly(key);
      if (!info) return undefined;
      const etag = `"${info.sha256}"`;
      const headers = new Headers({
        "Content-Type": route.contentType ?? info.contentType,
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Last-Modified": info.fetchedAt.toUTCString(),
      });
      if (how.stale) staleHeaders(headers);
      if (ifNoneMatches(request.headers.get("if-none-match"), etag)) {
        headers.delete("Content-Type");
        return new Response(account(null), { status: 304, headers });
      }
      let range = parseRange(request.headers.get("range"), info.size);
      const ifRange = request.headers.get("if-range");
      if (ifRange !== null && ifRange.trim() !== etag) range = undefined;
      if (range === "unsatisfiable") {
        stats.errors++;
        headers.set("Content-Range", `bytes */${info.size}`);
        headers.set("Content-Length", "0");
        return new Response(null, { status: 416, headers });
      }
      const status = range ? 206 : 200;
      const length = range ? range.end - range.start + 1 : info.size;
      headers.set("Content-Length", String(length));
      if (range) headers.set("Content-Range", `bytes ${range.start}-${range.end}/${info.size}`);
      if (request.method === "HEAD") {
        return new Response(account(null), { status, headers });
      }
      let opened;
      try {
        opened = await store.open(key, range);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound || error instanceof RangeError) continue;
        throw error;
      }
      if (opened.info.sha256 !== info.sha256) {
        // Replaced between stat and open: start over with the new object's metadata.
        await opened.body.cancel();
        continue;
      }
      return new Response(account(opened.body), { status, headers });
    }
    return undefined;
  }

  /**
   * A body that streams the staged bytes of a fill in progress, withholding the tail until the
   * store reports the commit; errored (and counted as an error) when the fill fails.
   */
  function liveStream(
    key: string,
    live: LiveBody,
    reader: StagedReader,
  ): ReadableStream<Uint8Array> {
    const { staged, size } = live;
    let offset = 0;
    let committedSize: number | undefined;
    let failure: { error: unknown } | undefined;
    const settled = staged.committed.then(
      (info) => void (committedSize = info.size),
      (error: unknown) => void (failure = { error }),
    );
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          while (true) {
            if (failure) {
              throw new Error(
                `Cannot serve "${key}": the fill failed: ${messageOf(failure.error)}`,
              );
            }
            // Before the commit no client may receive the whole object.
            const limit = committedSize ??
              (size === undefined
                ? Math.max(0, staged.staged - LIVE_HOLD_BYTES)
                : Math.min(staged.staged, size - 1));
            if (offset < limit) {
              const buffer = new Uint8Array(Math.min(LIVE_READ_CHUNK, limit - offset));
              const count = await reader.read(buffer);
              if (count === null || count === 0) {
                throw new Error(`Cannot serve "${key}": the staged file ended at byte ${offset}`);
              }
              offset += count;
              controller.enqueue(buffer.subarray(0, count));
              return;
            }
            if (committedSize !== undefined) {
              reader.close();
              controller.close();
              return;
            }
            if (staged.complete) await settled;
            else await Promise.race([staged.waitFor(staged.staged), settled]);
          }
        } catch (error) {
          reader.close();
          stats.errors++;
          log("warn", messageOf(error));
          controller.error(error);
        }
      },
      cancel() {
        // The client left: only this reader stops; the shared fill carries on.
        reader.close();
      },
    }, { highWaterMark: 0 });
  }

  /**
   * Answers a waiter from a fill in progress: HEAD at once when the size is announced, GET with
   * a {@linkcode liveStream}. `undefined` when it cannot (the caller waits for the commit).
   */
  async function serveLive(
    request: Request,
    route: Route,
    fillState: LiveFill,
    live: LiveBody,
  ): Promise<Response | undefined> {
    const headers = new Headers({
      "Content-Type": route.contentType ?? live.contentType,
      "Accept-Ranges": "bytes",
    });
    if (live.size !== undefined) headers.set("Content-Length", String(live.size));
    if (request.method === "HEAD") {
      return live.size === undefined ? undefined : new Response(null, { status: 200, headers });
    }
    let reader: StagedReader;
    try {
      reader = await live.staged.openReader();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    fillState.bodyServed = true;
    unservedFills.delete(route.key);
    return new Response(liveStream(route.key, live, reader), { status: 200, headers });
  }

  /**
   * Waits until a staged object is worth answering live ({@linkcode LIVE_START_BYTES} staged);
   * `false` when staging ended below that (the caller waits for the commit instead).
   */
  async function liveReady(staged: StagedObject): Promise<boolean> {
    const settled = staged.committed.then(() => {}, () => {});
    while (staged.staged < LIVE_START_BYTES && !staged.complete) {
      const over = await Promise.race([
        staged.waitFor(LIVE_START_BYTES - 1).then(() => false),
        settled.then(() => true),
      ]);
      if (over) break;
    }
    return staged.staged >= LIVE_START_BYTES;
  }

  /** Whether a waiter may be answered from a fill in progress. */
  function canServeLive(request: Request, route: Route): boolean {
    return route.kind === "artifact" && !route.serve &&
      (request.method === "GET" || request.method === "HEAD") &&
      !request.headers.has("range") && !request.headers.has("if-none-match");
  }

  // ---- Request handling --------------------------------------------------------------------

  async function passthrough(request: Request, route: Route, ctx: RouteContext): Promise<Response> {
    const target = route.upstream;
    if (!target) {
      return fail(502, `Cannot pass "${route.key}" through: the route has no upstream request`);
    }
    let response: Response;
    try {
      response = await ctx.fetch(target.url, {
        method: target.method ?? request.method,
        ...(target.headers ? { headers: target.headers } : {}),
        signal: ctx.signal,
        purpose: "metadata",
      });
    } catch (error) {
      if (error instanceof UpstreamStatusError) {
        return new Response(request.method === "HEAD" ? null : new Uint8Array(error.body), {
          status: error.status,
          headers: replayHeaders(error.headers),
        });
      }
      return fail(502, `Cannot pass through to "${target.url}": ${messageOf(error)}`);
    }
    const headers = replayHeaders(response.headers);
    route.headerRewrite?.(headers, ctx.baseUrl);
    if (request.method === "HEAD" || NULL_BODY_STATUSES.has(response.status) || !response.body) {
      await response.body?.cancel();
      return new Response(null, {
        status: response.status,
        statusText: response.statusText,
        headers,
      });
    }
    return new Response(
      countingStream(response.body, (count) => stats.upstreamBytes += count),
      { status: response.status, statusText: response.statusText, headers },
    );
  }

  async function cacheable(request: Request, route: Route, ctx: RouteContext): Promise<Response> {
    const key = validateKey(route.key);
    const current = await statQuietly(key);
    if (current && isServable(route.kind, current, policy, clock())) {
      const stale = !isFresh(route.kind, current, policy, clock());
      if (stale) startRevalidation(route, request, ctx.baseUrl);
      const response = await serveStored(request, route, ctx, { hit: true, stale });
      if (response) return response;
    }
    if (closing) return fail(503, `Cannot fill "${key}": the cache server is shutting down`);
    const flight = flights.run(key, () => {
      const live = route.kind === "artifact" ? new LiveFill() : undefined;
      if (live) liveFills.set(key, live);
      return track(fill(route, request, ctx.baseUrl, "miss", live));
    }, request.signal);
    // Marked handled: a waiter answered live never awaits it, and it rejects when its client leaves.
    flight.catch(() => {});
    const live = liveFills.get(key);
    if (live && canServeLive(request, route)) {
      let body: LiveBody | undefined;
      try {
        body = await abortable(live.body, request.signal);
        if (body && !(await abortable(liveReady(body.staged), request.signal))) body = undefined;
      } catch {
        return textResponse(503, `Client left while "${key}" was being fetched`);
      }
      const response = body && await serveLive(request, route, live, body);
      if (response) return response;
    }
    let outcome: FillOutcome;
    try {
      outcome = await flight;
    } catch {
      // The client left; the shared fill carries on for the others.
      return textResponse(503, `Client left while "${key}" was being fetched`);
    }
    switch (outcome.type) {
      case "stored":
      case "stale": {
        const stale = outcome.type === "stale";
        const response = await serveStored(request, route, ctx, { hit: false, stale });
        return response ?? fail(502, `Cannot read cached object "${key}" after the fill`);
      }
      case "replay": {
        const body = request.method === "HEAD" || NULL_BODY_STATUSES.has(outcome.status)
          ? null
          : outcome.body;
        return new Response(body, {
          status: outcome.status,
          statusText: outcome.statusText,
          headers: outcome.headers,
        });
      }
      case "error":
        return fail(outcome.status, outcome.message, outcome.headers);
    }
  }

  async function handleRequest(request: Request): Promise<Response> {
    const readOnly = request.method === "GET" || request.method === "HEAD";
    if (readOnly) await request.body?.cancel();
    const notAllowed = async () => {
      await request.body?.cancel();
      return fail(405, `Cannot handle method "${request.method}": only GET and HEAD are served`, {
        Allow: "GET, HEAD",
      });
    };
    const rawPath = rawPathOf(request.url);
    if (!rawPath.startsWith(prefix)) return fail(404, "Not found");
    let path: string;
    try {
      path = decodeRequestPath(rawPath.slice(prefix.length));
    } catch (error) {
      if (error instanceof HttpError) return fail(error.status, error.message, error.headers);
      throw error;
    }
    const mirror = mirrors.find((candidate) => candidate.handles(path));
    if (!mirror) return fail(404, `No mirror handles "${path}"`);
    if (!readOnly && !(mirror.methods ?? []).includes(request.method)) return await notAllowed();
    const baseUrl = options.publicBaseUrl?.(request) ?? new URL(prefix, request.url);
    const ctx: RouteContext = {
      fetch: countedFetch(upstream(request)),
      signal: AbortSignal.any([lifetime.signal, request.signal]),
      baseUrl,
    };
    let route: Route;
    try {
      route = await mirror.route(request, path, ctx);
    } catch (error) {
      if (error instanceof HttpError) return fail(error.status, error.message, error.headers);
      if (error instanceof InvalidKeyError) return fail(400, error.message);
      if (error instanceof UpstreamStatusError) {
        return new Response(request.method === "HEAD" ? null : new Uint8Array(error.body), {
          status: error.status,
          headers: replayHeaders(error.headers),
        });
      }
      log("warn", `Cannot route "${path}" (${mirror.name}): ${messageOf(error)}`);
      return fail(502, `Cannot route "${path}": ${messageOf(error)}`);
    }
    if (!readOnly && !(route.methods ?? []).includes(request.method)) return await notAllowed();
    if (route.kind === "passthrough") return await passthrough(request, route, ctx);
    try {
      return await cacheable(request, route, ctx);
    } catch (error) {
      if (error instanceof InvalidKeyError) return fail(400, error.message);
      throw error;
    }
  }

  return {
    stats,
    signal: lifetime.signal,
    async handle(request: Request): Promise<Response> {
      try {
        const response = await handleRequest(request);
        if (response.status >= 400 && !request.bodyUsed) {
          await request.body?.cancel().catch(() => {});
        }
        return response;
      } catch (error) {
        log("error", `Cannot answer "${request.url}": ${messageOf(error)}`);
        return fail(502, `Cannot answer the request: ${messageOf(error)}`);
      }
    },
    async shutdown(): Promise<void> {
      closing = true;
      if (!lifetime.signal.aborted) lifetime.abort(new ShuttingDownError());
      while (background.size > 0) await Promise.allSettled([...background]);
    },
    async settled(): Promise<void> {
      while (background.size > 0) await Promise.allSettled([...background]);
    },
    async idle(key: string): Promise<void> {
      while (true) {
        const pending = [flights.current(key), annotations.get(key)].filter((p) => p !== undefined);
        if (pending.length === 0) return;
        await Promise.allSettled(pending);
      }
    },
  };
}

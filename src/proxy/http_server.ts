/**
 * Plain HTTP front end for a cache handler, over `Deno.serve`.
 *
 * @module
 */

/** Anything that answers requests: a {@linkcode CacheHandler} or a bare function. */
export type RequestHandler =
  | { handle(request: Request): Promise<Response> }
  | ((request: Request) => Promise<Response>);

/** Options for {@linkcode serveHttp}. */
export interface ServeHttpOptions {
  /** Answers every request. */
  handler: RequestHandler;
  /** Interface to bind; default `127.0.0.1`. */
  hostname?: string;
  /** Port to bind; default `0` (an ephemeral port). */
  port?: number;
  /** Aborting it closes the server gracefully (like `close()`). */
  signal?: AbortSignal;
  /** Receives errors thrown by the handler (default: `console.error`). */
  onError?: (error: unknown) => void;
}

/** A listening HTTP server. */
export interface HttpServerHandle {
  /** Base URL, e.g. `http://127.0.0.1:41234/`. */
  readonly url: string;
  /** Bound port. */
  readonly port: number;
  /** Bound hostname. */
  readonly hostname: string;
  /**
   * Stops accepting connections and waits for in-flight responses to finish. Shut the cache
   * handler down first so that requests waiting on fills are answered. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Starts an HTTP server on `hostname:port` (default `127.0.0.1:0`) without the default listen log.
 *
 * @param options The handler, address and an optional stop signal.
 * @returns The server's URL and port, and `close()`.
 * @example
 * ```ts
 * import { serveHttp } from "./http_server.ts";
 *
 * const server = serveHttp({ handler: () => Promise.resolve(new Response("ok")) });
 * console.log(server.url); // http://127.0.0.1:41234/
 * await server.close();
 * ```
 */
export function serveHttp(options: ServeHttpOptions): HttpServerHandle {
  const { handler } = options;
  const answer = typeof handler === "function" ? handler : handler.handle.bind(handler);
  const hostname = options.hostname ?? "127.0.0.1";
  const report = options.onError ?? ((error: unknown) => console.error(error));
  const server = Deno.serve({
    hostname,
    port: options.port ?? 0,
    onListen() {},
    onError(error) {
      report(error);
      return new Response("Internal server error\n", {
        status: 500,
        headers: { "Content-Type": "text/plain; charset=utf-8" },
      });
    },
  }, answer);
  const port = server.addr.port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      options.signal?.removeEventListener("abort", onAbort);
      await server.shutdown();
      await server.finished;
    })();
    return closing;
  };
  const onAbort = () => void close();
  if (options.signal?.aborted) void close();
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  return { url: `http://${host}:${port}/`, port, hostname, close };
}

/**
 * The HTTPS front end of the cache, built on `node:https` rather than `Deno.serve`.
 *
 * `Deno.serve`'s TLS listener never sets `TCP_NODELAY` on accepted sockets, so every response
 * written as two small segments (headers, then body) waits for the client's delayed ACK: about
 * 44 ms per request on a reused connection. `node:https` lets us call `setNoDelay(true)` on each
 * socket. This module adapts node's `(IncomingMessage, ServerResponse)` pair to the project's
 * `(Request) => Promise<Response>` handlers, streams response bodies with backpressure, and shuts
 * down gracefully.
 *
 * Only HTTP/1.1 is offered via ALPN; Go clients (terraform, tofu) fall back to it cleanly.
 *
 * @module
 */

import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** Handles one request. Must resolve to a response (thrown errors become a 500). */
export type HttpsHandler = (request: Request) => Promise<Response>;

/** Options for {@linkcode serveHttps}. */
export interface ServeHttpsOptions {
  /** The request handler; `request.signal` aborts when the client leaves before the response ends. */
  handler: HttpsHandler;
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
  /** Address to listen on; defaults to `127.0.0.1`. */
  hostname?: string;
  /** Port to listen on; defaults to 0 (an ephemeral port). */
  port?: number;
  /** Called with errors the handler threw or response bodies that failed mid-stream. */
  onError?: (error: unknown, request: Request) => void;
  /** How long an idle keep-alive connection stays open, in milliseconds; defaults to 30 s. */
  keepAliveTimeoutMs?: number;
  /**
   * Sets `TCP_NODELAY` on every accepted socket; defaults to true. Only tests that demonstrate
   * the Nagle stall turn it off.
   */
  noDelay?: boolean;
}

/** A running HTTPS server. */
export interface HttpsServer extends AsyncDisposable {
  /** Base URL, e.g. `https://127.0.0.1:40123/`. */
  readonly url: URL;
  /** The bound port. */
  readonly port: number;
  /**
   * Stops accepting connections, closes idle keep-alive connections, waits for in-flight
   * responses to finish, then resolves. Idempotent.
   */
  close(): Promise<void>;
}

interface SocketState {
  /** Requests on this socket whose responses have not finished. */
  active: number;
}

const HOP_BY_HOP_RESPONSE = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "proxy-connection",
]);

/**
 * Starts an HTTPS server with `TCP_NODELAY` on every connection and keep-alive enabled.
 *
 * @param options Handler, certificate, key and listen address.
 * @returns The running server; call `close()` (or `await using`) to stop it.
 *
 * @example
 * ```ts
 * await using server = await serveHttps({
 *   handler: () => Promise.resolve(new Response("ok")),
 *   cert,
 *   key,
 * });
 * console.log(server.url.href);
 * ```
 */
export async function serveHttps(options: ServeHttpsOptions): Promise<HttpsServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const noDelay = options.noDelay ?? true;
  const sockets = new Map<Socket, SocketState>();
  let closing = false;

  const server = https.createServer({
    cert: options.cert,
    key: options.key,
    ALPNProtocols: ["http/1.1"],
    keepAlive: true,
    noDelay,
  });
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 30_000;

  // Both the raw TCP socket and the TLS socket wrapping it: whichever owns the fd applies it.
  server.on("connection", (socket: Socket) => socket.setNoDelay(noDelay));
  server.on("secureConnection", (socket: Socket) => {
    socket.setNoDelay(noDelay);
    sockets.set(socket, { active: 0 });
    socket.on("close", () => sockets.delete(socket));
  });

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const state = sockets.get(socket);
    if (state !== undefined) state.active++;
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      if (state !== undefined) state.active--;
      if (closing && state !== undefined && state.active === 0) socket.destroy();
    };
    res.on("finish", settle);
    res.on("close", settle);
    if (closing) res.setHeader("connection", "close");
    void _respond(req, res, options, baseUrl).catch((error) => {
      // _respond handles its own errors; this guards against bugs in the adapter itself.
      if (!res.destroyed) res.destroy(error instanceof Error ? error : undefined);
    });
  });

  const { promise: listening, resolve: onListening, reject: onListenError } = Promise
    .withResolvers<void>();
  server.once("error", onListenError);
  server.listen(options.port ?? 0, hostname, () => onListening());
  await listening;
  server.off("error", onListenError);

  const address = server.address();
  if (address === null || typeof address === "string") {
    server.close();
    throw new Error(`Cannot read the listening address of the HTTPS server on "${hostname}"`);
  }
  const port = address.port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const baseUrl = new URL(`https://${host}:${port}/`);

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      closing = true;
      server.close(() => resolve());
      for (const [socket, state] of sockets) {
        if (state.active === 0) socket.destroy();
      }
    });
    return closed;
  };

  return {
    url: baseUrl,
    port,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Adapts one node request to the handler and writes its response back. */
async function _respond(
  req: IncomingMessage,
  res: ServerResponse,
  options: ServeHttpsOptions,
  baseUrl: URL,
): Promise<void> {
  const abort = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) abort.abort(new Error("Client disconnected"));
  });

  const request = _toRequest(req, baseUrl, abort.signal);
  let response: Response;
  try {
    response = await options.handler(request);
  } catch (error) {
    options.onError?.(error, request);
    response = new Response("Internal server error\n", {
      status: 500,
      headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" },
    });
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    // Drain an unread request body so the connection can be reused.
    if (!request.bodyUsed && request.body !== null) await request.body.cancel().catch(() => {});
  }

  if (res.destroyed) {
    await response.body?.cancel(abort.signal.reason).catch(() => {});
    return;
  }
  res.statusCode = response.status;
  if (response.statusText !== "") res.statusMessage = response.statusText;
  _copyResponseHeaders(response.headers, res);

  const body = response.body;
  if (body === null || req.method === "HEAD") {
    await body?.cancel().catch(() => {});
    res.end();
    return;
  }
  await _pipeBody(body, res, abort.signal, (error) => options.onError?.(error, request));
}

/** Streams a web body into the node response, honouring backpressure and client disconnects. */
async function _pipeBody(
  body: ReadableStream<Uint8Array>,
  res: ServerResponse,
  clientGone: AbortSignal,
  onError: (error: unknown) => void,
): Promise<void> {
  const reader = body.getReader();
  const cancelOnLeave = () => {
    reader.cancel(clientGone.reason).catch(() => {});
  };
  clientGone.addEventListener("abort", cancelOnLeave, { once: true });
  try {
    while (true) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (!clientGone.aborted) {
          onError(error);
          // Headers may be out already; a torn connection is the only honest signal left.
          res.destroy(error instanceof Error ? error : new Error(String(error)));
        }
        return;
      }
      if (chunk.done) break;
      if (clientGone.aborted) return;
      if (!res.write(chunk.value)) {
        await _drainOrClose(res);
        if (clientGone.aborted) return;
      }
    }
    res.end();
  } finally {
    clientGone.removeEventListener("abort", cancelOnLeave);
    reader.releaseLock();
  }
}

function _drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

function _toRequest(req: IncomingMessage, baseUrl: URL, signal: AbortSignal): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i]!, raw[i + 1]!);
    } catch {
      // Skip header names or values the Fetch API refuses; node already validated the syntax.
    }
  }
  let url: URL;
  try {
    const host = req.headers.host;
    url = new URL(req.url ?? "/", host !== undefined ? `https://${host}` : baseUrl);
    if (url.protocol !== "https:") url = new URL(req.url ?? "/", baseUrl);
  } catch {
    url = new URL(baseUrl);
  }
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  return new Request(url, {
    method,
    headers,
    signal,
    body: hasBody ? _nodeBodyStream(req) : null,
  });
}

function _nodeBodyStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Uint8Array) => {
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.on("end", () => controller.close());
      req.on("error", (error) => controller.error(error));
    },
    pull() {
      req.resume();
    },
    cancel() {
      req.resume(); // discard the rest so the socket stays usable
    },
  }, { highWaterMark: 4 });
}

function _copyResponseHeaders(headers: Headers, res: ServerResponse): void {
  for (const [name, value] of headers) {
    if (HOP_BY_HOP_RESPONSE.has(name) || name === "set-cookie") continue;
    res.setHeader(name, value);
  }
  const cookies = headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
}

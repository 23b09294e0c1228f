/**
 * The upstream HTTP client: how every request to a registry, download host or module source is
 * built and performed.
 *
 * Header rules (fixing the reference implementation's credential leaks):
 * - Inbound headers are copied except hop-by-hop headers (including the names listed in
 *   `Connection`), `Host`, `Accept-Encoding`, `Content-Length` and the proxy's own headers.
 * - `User-Agent` is the inbound one verbatim, else `tfcache/<version>`.
 * - `Authorization` and `Cookie` are credentials bound to one host. The inbound ones are sent only
 *   to the host the inbound request was routed for; otherwise a token looked up for the target
 *   host (`TF_TOKEN_<host>`, CLI-config credentials) is sent as `Bearer`. Redirects are followed
 *   by hand and every hop recomputes its credentials, so nothing crosses to another host.
 * - Credentials never travel over cleartext HTTP, except to loopback addresses.
 *
 * Trust: the system root bundle plus `SSL_CERT_FILE` are added to Deno's root store (`caCerts`
 * augments Deno's built-in roots; it does not replace them).
 *
 * Timeouts: `metadata` requests get a total deadline for headers and body; `artifact` requests an
 * idle deadline that restarts on every chunk, so a slow but steady download never fails.
 *
 * @module
 */

import denoConfig from "../../deno.json" with { type: "json" };
import { HOP_BY_HOP, NULL_BODY_STATUSES } from "./_http_constants.ts";
import { UpstreamError } from "./errors.ts";
import type { UpstreamFetch, UpstreamFetchFactory, UpstreamFetchInit } from "./route.ts";
import { SYSTEM_CA_BUNDLE_PATHS } from "./ca_bundle.ts";

/** Looks up a token for a host given as `hostname[:port]` (lowercase, punycode, no default port). */
export type CredentialsLookup = (host: string) => string | undefined;

/** The default `User-Agent` when the inbound request has none. */
export const DEFAULT_USER_AGENT = `tfcache/${denoConfig.version}`;

/** Default total deadline for `metadata` requests, in milliseconds. */
export const DEFAULT_METADATA_TIMEOUT_MS = 30_000;

/** Default idle (no progress) deadline for `artifact` requests, in milliseconds. */
export const DEFAULT_ARTIFACT_IDLE_TIMEOUT_MS = 60_000;

/** Default maximum number of redirects followed. */
export const DEFAULT_MAX_REDIRECTS = 10;

/** Options shared by {@linkcode buildUpstreamHeaders} and {@linkcode createUpstreamClient}. */
export interface UpstreamHeaderOptions {
  /** Token lookup by `hostname[:port]`; the result is sent as `Authorization: Bearer <token>`. */
  credentials?: CredentialsLookup;
  /**
   * The host (`hostname[:port]`) the inbound `Authorization` and `Cookie` belong to. They are
   * dropped for every other host; when absent they are never forwarded.
   */
  authorizationHost?: string;
  /** More inbound header names never to forward (e.g. the proxy's own secret header). */
  dropHeaders?: readonly string[];
  /** `User-Agent` when the inbound request has none; defaults to {@linkcode DEFAULT_USER_AGENT}. */
  userAgent?: string;
}

/**
 * The exact body size an upstream response announces: its `Content-Length`, unless the body has
 * a content coding (`fetch` decodes it, so the length would not match what the stream yields).
 *
 * @param headers The upstream response headers.
 * @returns The size in bytes, or `undefined` when it is not announced or not usable.
 * @example
 * ```ts
 * import { announcedSize } from "./upstream.ts";
 * announcedSize(new Headers({ "content-length": "42" })); // 42
 * ```
 */
export function announcedSize(headers: Headers): number | undefined {
  const value = headers.get("content-length")?.trim();
  if (headers.has("content-encoding") || value === undefined || !/^\d+$/.test(value)) {
    return undefined;
  }
  const size = Number(value);
  return Number.isSafeInteger(size) ? size : undefined;
}

/** Options for {@linkcode createUpstreamClient}. */
export interface UpstreamClientOptions extends Omit<UpstreamHeaderOptions, "authorizationHost"> {
  /**
   * Names the upstream host an inbound request's `Authorization` is meant for (usually the
   * registry host in the mirrored path). Return `undefined` to never forward it.
   */
  authorizationHostFor?: (inbound: Request) => string | undefined;
  /** Total deadline for `metadata` requests in milliseconds; defaults to 30 s. */
  metadataTimeoutMs?: number;
  /** Idle deadline for `artifact` requests in milliseconds; defaults to 60 s. */
  artifactIdleTimeoutMs?: number;
  /** Maximum redirects followed; defaults to 10. */
  maxRedirects?: number;
  /** Environment to read `SSL_CERT_FILE` from; defaults to the process environment. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Candidate system root bundles; defaults to {@linkcode SYSTEM_CA_BUNDLE_PATHS}. */
  systemCaBundlePaths?: readonly string[];
  /** Extra trusted PEM certificates. */
  caCerts?: readonly string[];
}

/** An {@linkcode UpstreamFetchFactory} that owns an HTTP client; call `close()` when done. */
export interface UpstreamClient extends UpstreamFetchFactory, Disposable {
  /** Closes the underlying HTTP client and its pooled connections (idempotent). */
  close(): void;
}

const ALWAYS_DROPPED = new Set([...HOP_BY_HOP, "host", "accept-encoding", "content-length"]);
const HOST_BOUND = new Set(["authorization", "cookie"]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Codings Deno's fetch decodes by itself (it asks for `gzip, br`). */
const DECODED_CODINGS = new Set(["gzip", "x-gzip", "br"]);

/**
 * Builds the headers of one upstream request from the inbound request's headers.
 *
 * @param inbound Headers of the request terraform/tofu sent to the cache, if any.
 * @param targetUrl The upstream URL this request goes to (one redirect hop).
 * @param options Credentials, the inbound credentials' host, extra drops, fallback User-Agent.
 * @returns Fresh headers for `fetch`.
 *
 * @example
 * ```ts
 * const headers = buildUpstreamHeaders(request.headers, new URL("https://registry.terraform.io/v1/"), {
 *   credentials: (host) => tokenFromEnv(host, Deno.env.toObject()),
 * });
 * ```
 */
export function buildUpstreamHeaders(
  inbound: Headers | undefined,
  targetUrl: URL,
  options: UpstreamHeaderOptions = {},
): Headers {
  const out = new Headers();
  const host = targetUrl.host;
  const mayCarryCredentials = _credentialsAllowed(targetUrl);
  if (inbound !== undefined) {
    const dropped = new Set(ALWAYS_DROPPED);
    for (const token of (inbound.get("connection") ?? "").split(",")) {
      const name = token.trim().toLowerCase();
      if (name !== "") dropped.add(name);
    }
    for (const name of options.dropHeaders ?? []) dropped.add(name.toLowerCase());
    const inboundCredentialsApply = mayCarryCredentials &&
      options.authorizationHost !== undefined &&
      _normalizeHost(options.authorizationHost) === host;
    for (const [name, value] of inbound) {
      if (dropped.has(name)) continue;
      if (HOST_BOUND.has(name) && !inboundCredentialsApply) continue;
      out.append(name, value);
    }
  }
  if (!out.has("user-agent")) out.set("user-agent", options.userAgent ?? DEFAULT_USER_AGENT);
  if (!out.has("authorization") && mayCarryCredentials && options.credentials !== undefined) {
    const token = options.credentials(host);
    if (token !== undefined && token !== "") out.set("authorization", `Bearer ${token}`);
  }
  return out;
}

/**
 * Finds a token for `host` in `TF_TOKEN_<host>` (wins) or `TOFU_TOKEN_<host>` variables, decoded
 * the way Terraform decodes them: `__` means `-`, `_` means `.`, names may also use the literal
 * characters, internationalised names may be given in Unicode or punycode, and case is ignored.
 *
 * @param host Target host as `hostname[:port]`, e.g. `app.terraform.io` or `café.fr`.
 * @param env The environment, e.g. `Deno.env.toObject()`.
 * @returns The token, or `undefined`.
 *
 * @example
 * ```ts
 * tokenFromEnv("my-registry.example.com", { TF_TOKEN_my__registry_example_com: "s3cr3t" }); // "s3cr3t"
 * ```
 */
export function tokenFromEnv(
  host: string,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const wanted = _normalizeHost(host);
  if (wanted === undefined) return undefined;
  for (const prefix of ["TF_TOKEN_", "TOFU_TOKEN_"]) {
    for (const [name, value] of Object.entries(env)) {
      if (!name.startsWith(prefix) || value === undefined || value === "") continue;
      const raw = name.slice(prefix.length).replaceAll("__", "-").replaceAll("_", ".");
      if (_normalizeHost(raw) === wanted) return value;
    }
  }
  return undefined;
}

/**
 * Creates the upstream client: a factory of propagated fetches (one per inbound request) sharing
 * one HTTP client that trusts the system roots plus `SSL_CERT_FILE`.
 *
 * @param options Credentials, timeouts, redirect limit and trust.
 * @returns The factory; it also has `close()`.
 *
 * @example
 * ```ts
 * using upstream = createUpstreamClient({ credentials: (h) => tokenFromEnv(h, Deno.env.toObject()) });
 * const res = await upstream(undefined)("https://registry.terraform.io/.well-known/terraform.json");
 * ```
 */
export function createUpstreamClient(options: UpstreamClientOptions = {}): UpstreamClient {
  const client = Deno.createHttpClient({ caCerts: _trustedPems(options) });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    client.close();
  };
  const factory = (inbound: Request | undefined): UpstreamFetch => {
    const authorizationHost = inbound !== undefined
      ? options.authorizationHostFor?.(inbound)
      : undefined;
    const headerOptions: UpstreamHeaderOptions = {
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      ...(authorizationHost !== undefined ? { authorizationHost } : {}),
      ...(options.dropHeaders !== undefined ? { dropHeaders: options.dropHeaders } : {}),
      ...(options.userAgent !== undefined ? { userAgent: options.userAgent } : {}),
    };
    return (url, init = {}) => {
      if (closed) {
        return Promise.reject(new UpstreamError(_display(new URL(url)), "the client is closed"));
      }
      return _fetch(client, inbound?.headers, new URL(url), init, headerOptions, options);
    };
  };
  return Object.assign(factory, { close, [Symbol.dispose]: close });
}

/** Follows redirects by hand, applying the deadline for the request's purpose. */
async function _fetch(
  client: Deno.HttpClient,
  inbound: Headers | undefined,
  url: URL,
  init: UpstreamFetchInit,
  headerOptions: UpstreamHeaderOptions,
  options: UpstreamClientOptions,
): Promise<Response> {
  const purpose = init.purpose ?? "metadata";
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const deadline = new Deadline(
    purpose === "metadata"
      ? options.metadataTimeoutMs ?? DEFAULT_METADATA_TIMEOUT_MS
      : options.artifactIdleTimeoutMs ?? DEFAULT_ARTIFACT_IDLE_TIMEOUT_MS,
    purpose,
    init.signal,
  );
  let current = url;
  let method = (init.method ?? "GET").toUpperCase();
  try {
    for (let hop = 0;; hop++) {
      const headers = buildUpstreamHeaders(inbound, current, headerOptions);
      for (const [name, value] of Object.entries(init.headers ?? {})) {
        // A mirror's own credentials belong to the URL it asked for, not to a redirect target.
        if (HOST_BOUND.has(name.toLowerCase()) && current.host !== url.host) continue;
        headers.set(name, value);
      }
      deadline.arm(current);
      let res: Response;
      try {
        res = await fetch(current, {
          method,
          headers,
          redirect: "manual",
          signal: deadline.signal,
          client,
        });
      } catch (error) {
        throw deadline.failure(current, error);
      }
      if (purpose === "artifact") deadline.disarm();

      const location = res.headers.get("location");
      if (!REDIRECT_STATUSES.has(res.status) || location === null) {
        return _wrap(res, current, hop > 0, deadline);
      }
      await res.body?.cancel();
      if (hop >= maxRedirects) {
        throw new UpstreamError(
          _display(url),
          `stopped after ${maxRedirects} redirects (the last one pointed to "${location}")`,
        );
      }
      let next: URL;
      try {
        next = new URL(location, current);
      } catch (error) {
        throw new UpstreamError(_display(current), `invalid redirect location "${location}"`, {
          cause: error,
        });
      }
      if (next.protocol !== "https:" && next.protocol !== "http:") {
        throw new UpstreamError(_display(current), `refusing to follow a redirect to "${next}"`);
      }
      if (res.status === 303 && method !== "HEAD") method = "GET";
      if ((res.status === 301 || res.status === 302) && method === "POST") method = "GET";
      current = next;
    }
  } catch (error) {
    deadline.dispose();
    throw error;
  }
}

/** Re-wraps the upstream body so deadlines and transport errors surface as `UpstreamError`. */
function _wrap(res: Response, url: URL, redirected: boolean, deadline: Deadline): Response {
  const headers = new Headers(res.headers);
  const coding = headers.get("content-encoding")?.trim().toLowerCase();
  if (coding !== undefined && DECODED_CODINGS.has(coding)) {
    // fetch already decoded the body; the length and coding described the encoded bytes.
    headers.delete("content-encoding");
    headers.delete("content-length");
  }
  let body: ReadableStream<Uint8Array> | null = null;
  if (res.body === null || NULL_BODY_STATUSES.has(res.status)) {
    deadline.dispose();
    res.body?.cancel().catch(() => {});
  } else {
    body = _guardedBody(res.body, url, deadline);
  }
  const wrapped = new Response(body, { status: res.status, statusText: res.statusText, headers });
  Object.defineProperty(wrapped, "url", { value: url.href });
  Object.defineProperty(wrapped, "redirected", { value: redirected });
  return wrapped;
}

function _guardedBody(
  source: ReadableStream<Uint8Array>,
  url: URL,
  deadline: Deadline,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (deadline.purpose === "artifact") deadline.arm(url);
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        deadline.dispose();
        controller.error(deadline.failure(url, error, "the connection broke off mid-body"));
        return;
      }
      if (deadline.purpose === "artifact") deadline.disarm();
      if (result.done) {
        deadline.dispose();
        controller.close();
      } else {
        controller.enqueue(result.value);
      }
    },
    async cancel(reason) {
      deadline.dispose();
      await reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}

/**
 * The timer behind one upstream request. For `metadata` it is armed once and covers every hop and
 * the body; for `artifact` it is armed around each wait (headers, then each chunk) and disarmed
 * as soon as data arrives, so only a stall trips it.
 */
class Deadline {
  readonly purpose: "metadata" | "artifact";
  readonly signal: AbortSignal;
  readonly #ms: number;
  readonly #controller = new AbortController();
  readonly #caller: AbortSignal | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #expired: UpstreamError | undefined;

  constructor(ms: number, purpose: "metadata" | "artifact", caller: AbortSignal | undefined) {
    this.#ms = ms;
    this.purpose = purpose;
    this.#caller = caller;
    this.signal = caller === undefined
      ? this.#controller.signal
      : AbortSignal.any([caller, this.#controller.signal]);
  }

  /** Starts the timer (metadata: only the first time; artifact: every wait). */
  arm(url: URL): void {
    if (this.#timer !== undefined || this.#expired !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#expired = new UpstreamError(
        _display(url),
        this.purpose === "metadata"
          ? `timed out after ${_seconds(this.#ms)} (total deadline for metadata)`
          : `stalled: no data received for ${_seconds(this.#ms)}`,
      );
      this.#controller.abort(this.#expired);
    }, this.#ms);
  }

  /** Stops the timer without expiring. */
  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Stops the timer for good. */
  dispose(): void {
    this.disarm();
  }

  /** Maps an error thrown by `fetch` or a body read to what the caller should see. */
  failure(url: URL, error: unknown, context?: string): unknown {
    this.dispose();
    if (this.#expired !== undefined) return this.#expired;
    if (this.#caller?.aborted) return this.#caller.reason;
    if (error instanceof UpstreamError) return error;
    const described = _describeTransportError(error);
    return new UpstreamError(
      _display(url),
      context === undefined ? described : `${context}: ${described}`,
      { cause: error },
    );
  }
}

function _describeTransportError(error: unknown): string {
  const messages: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth++) {
    if (e instanceof Error) {
      messages.push(e.message);
      e = e.cause;
    } else {
      messages.push(String(e));
      break;
    }
  }
  const all = messages.join(" | ");
  const detail = messages.at(-1) ?? "unknown error";
  if (/connection refused|os error 111|ECONNREFUSED/i.test(all)) return "connection refused";
  if (/UnknownIssuer|invalid peer certificate|certificate verify failed|BadSignature/i.test(all)) {
    const reason = /invalid peer certificate: (\w+)/.exec(all)?.[1] ?? "unknown issuer";
    return `TLS certificate not trusted (${reason}); add the issuing CA to the bundle named by SSL_CERT_FILE`;
  }
  if (/NotValidForName|certificate is not valid for/i.test(all)) {
    return "TLS certificate does not match the host name";
  }
  if (/dns error|failed to lookup address|Name or service not known|ENOTFOUND/i.test(all)) {
    return "host name not found";
  }
  if (/connection reset|os error 104|ECONNRESET/i.test(all)) return "connection reset by peer";
  if (/timed out|os error 110|ETIMEDOUT/i.test(all)) return "connection timed out";
  return detail;
}

/** System roots, `SSL_CERT_FILE` and extra PEMs, split per certificate with bad blocks dropped. */
function _trustedPems(options: UpstreamClientOptions): string[] {
  const env = options.env ?? Deno.env.toObject();
  const files: string[] = [];
  for (const path of options.systemCaBundlePaths ?? SYSTEM_CA_BUNDLE_PATHS) {
    if (_isFile(path)) {
      files.push(path);
      break;
    }
  }
  const userFile = env.SSL_CERT_FILE;
  if (userFile !== undefined && userFile !== "" && !files.includes(userFile)) files.push(userFile);
  const seen = new Set<string>();
  const pems: string[] = [];
  const add = (text: string) => {
    for (const match of text.matchAll(PEM_BLOCK)) {
      const body = match[1]!.replace(/\s+/g, "");
      if (seen.has(body)) continue;
      try {
        Uint8Array.fromBase64(body);
      } catch {
        continue; // one corrupt block must not make the whole bundle unusable
      }
      seen.add(body);
      pems.push(match[0]);
    }
  };
  for (const path of files) {
    try {
      add(Deno.readTextFileSync(path));
    } catch {
      // Unreadable bundle: trust what remains.
    }
  }
  for (const pem of options.caCerts ?? []) add(pem);
  return pems;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

function _isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Credentials may go over TLS, or over cleartext only to a loopback address. */
function _credentialsAllowed(url: URL): boolean {
  if (url.protocol === "https:") return true;
  const h = url.hostname;
  return h === "localhost" || h === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** `hostname[:port]` in comparison form (lowercase, punycode, no default port), or undefined. */
function _normalizeHost(host: string): string | undefined {
  if (host === "" || /[/?#@\s]/.test(host)) return undefined;
  try {
    return new URL(`https://${host}/`).host;
  } catch {
    return undefined;
  }
}

/** A URL fit for messages: no user info, query values elided (they may carry signatures). */
function _display(url: URL): string {
  return `${url.origin}${url.pathname}${url.search !== "" ? "?…" : ""}`;
}

function _seconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

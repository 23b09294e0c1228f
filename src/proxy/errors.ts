/**
 * Typed errors shared by the caching core and the mirrors.
 *
 * @module
 */

/** An error that maps directly to an HTTP status towards the client (e.g. 404 for an unknown provider). */
export class HttpError extends Error {
  /** HTTP status code to answer with. */
  readonly status: number;
  /** Extra response headers (e.g. `Retry-After`). */
  readonly headers: Record<string, string>;

  /**
   * @param status HTTP status code.
   * @param message Human-readable explanation, sent as the response body.
   * @param options `headers` to send and the error `cause`.
   */
  constructor(
    status: number,
    message: string,
    options: { headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "HttpError";
    this.status = status;
    this.headers = options.headers ?? {};
  }
}

/** Upstream answered with a non-2xx status. The answer reaches every waiter and is never cached. */
export class UpstreamStatusError extends Error {
  /** Upstream status code. */
  readonly status: number;
  /** Upstream URL (without credentials). */
  readonly url: string;
  /** Upstream response headers worth replaying. */
  readonly headers: Headers;
  /** Upstream response body (bounded). */
  readonly body: Uint8Array;

  /**
   * @param status Upstream status code.
   * @param url Upstream URL.
   * @param headers Upstream response headers.
   * @param body Upstream response body (bounded).
   */
  constructor(status: number, url: string, headers: Headers, body: Uint8Array) {
    super(`Upstream answered ${status} for "${url}"`);
    this.name = "UpstreamStatusError";
    this.status = status;
    this.url = url;
    this.headers = headers;
    this.body = body;
  }
}

/** Upstream could not be reached, timed out, or broke off mid-body. */
export class UpstreamError extends Error {
  /** Upstream URL (without credentials). */
  readonly url: string;

  /**
   * @param url Upstream URL.
   * @param message What went wrong.
   * @param options The error `cause`.
   */
  constructor(url: string, message: string, options: { cause?: unknown } = {}) {
    super(`Cannot fetch "${url}": ${message}`, { cause: options.cause });
    this.name = "UpstreamError";
    this.url = url;
  }
}

/** Downloaded bytes do not match the expected digest; nothing was stored. */
export class IntegrityError extends Error {
  /** Expected digest (e.g. `zh:…` or hex sha256). */
  readonly expected: string;
  /** Actual digest of the received bytes. */
  readonly actual: string;

  /**
   * @param what What was checked, e.g. `"terraform-provider-aws_5.0.0_linux_amd64.zip"`.
   * @param expected Expected digest.
   * @param actual Actual digest.
   */
  constructor(what: string, expected: string, actual: string) {
    super(`Cannot verify ${what}: expected checksum ${expected}, got ${actual}`);
    this.name = "IntegrityError";
    this.expected = expected;
    this.actual = actual;
  }
}

/** The staged bytes do not have the size announced for them (e.g. `Content-Length`). */
export class SizeMismatchError extends IntegrityError {
  /**
   * @param key Cache key being committed.
   * @param expected Announced size in bytes.
   * @param actual Staged size in bytes.
   */
  constructor(key: string, expected: number, actual: number) {
    super(`"${key}"`, `${expected} bytes`, `${actual} bytes`);
    this.name = "SizeMismatchError";
    this.message =
      `Cannot commit "${key}": ${expected} bytes were announced but ${actual} arrived; nothing was stored`;
  }
}

/** A cache key or request path is malformed or tries to leave the cache root. */
export class InvalidKeyError extends TypeError {
  /** The offending key (truncated for display). */
  readonly key: string;

  /**
   * @param key The offending key.
   * @param reason Why it was refused.
   */
  constructor(key: string, reason: string) {
    const shown = key.length > 120 ? `${key.slice(0, 120)}…` : key;
    super(`Cannot use cache key "${shown}": ${reason}`);
    this.name = "InvalidKeyError";
    this.key = shown;
  }
}

/** The server is shutting down and refuses new fills. */
export class ShuttingDownError extends Error {
  constructor() {
    super("Cannot start a fill: the cache server is shutting down");
    this.name = "ShuttingDownError";
  }
}

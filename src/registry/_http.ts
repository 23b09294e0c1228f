/**
 * Private helpers for the registry's small JSON requests: bounded body reads and timeouts.
 *
 * @module
 */

import { BodyTooLargeError, readBounded } from "../_shared/bytes.ts";

/** Default cap for JSON documents (discovery, versions, download): 1 MiB, as terraform. */
export const MAX_JSON_BYTES = 1024 * 1024;

/**
 * Reads a JSON response body, failing (and cancelling the rest of the body) once it exceeds
 * `limit`; a declared `Content-Length` over the limit fails before anything is read.
 *
 * @param response The response; its body is always consumed or cancelled.
 * @param limit Maximum number of bytes.
 * @returns The body bytes.
 * @throws {BodyTooLargeError} when the body is larger than `limit`.
 */
export async function readJsonBody(response: Response, limit: number): Promise<Uint8Array> {
  const body = response.body;
  if (body === null) return new Uint8Array(0);
  const declared = response.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    await body.cancel();
    throw new BodyTooLargeError(limit);
  }
  return await readBounded(body, limit);
}

/**
 * Discards a response body without reading it.
 *
 * @param response The response.
 */
export async function discardBody(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // Already consumed or errored: nothing left to release.
  }
}

/**
 * Runs `fn` with a signal that aborts after `ms` or when `outer` aborts. The timer is always
 * cleared, so test sanitizers see no leaked timer.
 *
 * @param ms Timeout in milliseconds; 0 or less disables it.
 * @param outer The caller's signal, if any.
 * @param fn The work; receives the combined signal.
 * @returns What `fn` returns.
 */
export async function withTimeout<T>(
  ms: number,
  outer: AbortSignal | undefined,
  fn: (signal: AbortSignal | undefined) => Promise<T>,
): Promise<T> {
  if (ms <= 0) return await fn(outer);
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`timed out after ${ms} ms`, "TimeoutError")),
    ms,
  );
  const signal = outer === undefined ? controller.signal : AbortSignal.any([
    outer,
    controller.signal,
  ]);
  try {
    return await fn(signal);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The URL a response was finally served from (after redirects), or `fallback` when the
 * response does not say (e.g. a `Response` built by an injected test fetch).
 *
 * @param response The response.
 * @param fallback The request URL.
 * @returns The effective URL.
 */
export function effectiveUrl(response: Response, fallback: URL): URL {
  if (response.url !== "") {
    try {
      return new URL(response.url);
    } catch {
      // Fall through to the request URL.
    }
  }
  return fallback;
}

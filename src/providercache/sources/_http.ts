/**
 * Small HTTP helpers for the sources: bounded body reads and JSON documents.
 *
 * @module
 */

import { BodyTooLargeError, readBounded } from "../../_shared/bytes.ts";
import type { FetchLike } from "../../registry/fetch_like.ts";
import { SourceQueryError } from "../errors.ts";

/** Largest JSON or checksum document read (4 MiB). */
export const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

/**
 * GETs a document, following the fetch's redirects, reading at most `maxBytes`.
 *
 * @param fetchFn The fetch.
 * @param url The URL.
 * @param options Signal, headers, size bound.
 * @returns Status, final URL, headers and body bytes (empty for non-2xx answers).
 * @throws {SourceQueryError} on network errors or oversized bodies.
 */
export async function getDocument(
  fetchFn: FetchLike,
  url: string,
  options: {
    signal?: AbortSignal | undefined;
    headers?: Record<string, string>;
    maxBytes?: number;
  } = {},
): Promise<{ status: number; url: URL; headers: Headers; body: Uint8Array }> {
  let response: Response;
  try {
    response = await fetchFn(url, {
      purpose: "metadata",
      headers: options.headers ?? {},
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (cause) {
    if (options.signal?.aborted) throw new SourceQueryError("request canceled", { cause });
    throw new SourceQueryError(`could not connect to ${_host(url)}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const finalUrl = new URL(response.url !== "" ? response.url : url);
  if (response.status < 200 || response.status > 299) {
    await response.body?.cancel();
    return {
      status: response.status,
      url: finalUrl,
      headers: response.headers,
      body: new Uint8Array(),
    };
  }
  const max = options.maxBytes ?? MAX_DOCUMENT_BYTES;
  let body: Uint8Array;
  try {
    body = await readBounded(response, max);
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      throw new SourceQueryError(`response from ${url} is larger than ${max} bytes`);
    }
    throw error;
  }
  return { status: response.status, url: finalUrl, headers: response.headers, body };
}

/**
 * Parses a JSON object.
 *
 * @param body The bytes.
 * @param url For messages.
 * @returns The object.
 * @throws {SourceQueryError} when it is not a JSON object.
 */
export function parseJsonObject(body: Uint8Array, url: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(body));
  } catch (cause) {
    throw new SourceQueryError(`invalid JSON response from ${url}`, { cause });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SourceQueryError(`invalid response from ${url}: not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function _host(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

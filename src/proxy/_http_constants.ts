/**
 * HTTP facts the proxy's upstream client and caching handler both rely on.
 *
 * @module
 */

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1, plus the non-standard `keep-alive` and
 * `proxy-connection`): they describe one connection and are never forwarded or replayed.
 */
export const HOP_BY_HOP: readonly string[] = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** Statuses whose responses never have a body (a `Response` with one would throw). */
export const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

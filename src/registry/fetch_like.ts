/**
 * The HTTP function every registry component takes injected.
 *
 * It is structurally identical to the proxy's `UpstreamFetch` (`src/proxy/route.ts`), so the
 * caching proxy can pass its credential-propagating fetch, while `src/registry/` keeps its
 * dependencies pointing downward only (it must not import the proxy).
 *
 * @module
 */

/** Options for a {@linkcode FetchLike} call. */
export interface FetchLikeInit {
  /** HTTP method; GET when absent. */
  method?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Aborts the request. */
  signal?: AbortSignal;
  /** "metadata" for small JSON documents, "artifact" for package downloads. */
  purpose?: "metadata" | "artifact";
}

/**
 * Performs one HTTP request. Plain `fetch` satisfies it:
 *
 * @example
 * ```ts
 * import type { FetchLike } from "./fetch_like.ts";
 * const f: FetchLike = (url, init) => fetch(url, init);
 * ```
 */
export type FetchLike = (url: string | URL, init?: FetchLikeInit) => Promise<Response>;

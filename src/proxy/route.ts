/**
 * The contract between protocol adapters (mirrors) and the protocol-agnostic caching core.
 *
 * A {@linkcode Mirror} maps an inbound request to a {@linkcode Route}: a cache key, the kind of
 * object, and how to obtain it on a miss (one upstream request, a `produce` function that builds
 * composite metadata, or a `produceArtifact` function that generates a stream).
 *
 * @module
 */

/** How an object is cached: metadata honours TTL/SWR, artifacts are immutable, passthrough is never cached. */
export type RouteKind = "metadata" | "artifact" | "passthrough";

/** One upstream request made on a miss (or for every passthrough request). */
export interface UpstreamRequest {
  /** Absolute URL of the upstream object. */
  url: string;
  /** HTTP method; GET when absent. */
  method?: string;
  /** Headers set by the mirror; they win over propagated inbound headers. */
  headers?: Record<string, string>;
}

/**
 * A propagated upstream fetch: builds the request with the proxy's header, credential and
 * User-Agent rules (from the inbound request when there is one), then performs it.
 */
export type UpstreamFetch = (url: string | URL, init?: UpstreamFetchInit) => Promise<Response>;

/** Options for an {@linkcode UpstreamFetch} call. */
export interface UpstreamFetchInit {
  /** HTTP method; GET when absent. */
  method?: string;
  /** Extra headers; they win over propagated inbound headers. */
  headers?: Record<string, string>;
  /** Aborts the request. */
  signal?: AbortSignal;
  /** "metadata" applies the total timeout, "artifact" the idle (no progress) timeout. */
  purpose?: "metadata" | "artifact";
}

/** What `produce`, `produceArtifact` and `serve` hooks receive. */
export interface RouteContext {
  /** Propagated upstream fetch bound to the inbound request that started the fill. */
  fetch: UpstreamFetch;
  /** Aborted when the server shuts down (never by a single client leaving). */
  signal: AbortSignal;
  /** The public base URL of this cache for this request, e.g. `http://127.0.0.1:1234/s3cr3t/`. */
  baseUrl: URL;
}

/** Composite metadata built by a route's `produce` hook. */
export interface ProducedMetadata {
  /** The bytes to cache and serve. */
  body: Uint8Array;
  /** Content type recorded in the sidecar. */
  contentType: string;
  /** Free-form fields stored in the sidecar `extra` object. */
  extra?: Record<string, unknown>;
}

/** A generated artifact stream produced by a route's `produceArtifact` hook. */
export interface ProducedArtifact {
  /** The bytes to cache; consumed exactly once. */
  stream: ReadableStream<Uint8Array>;
  /** Content type recorded in the sidecar. */
  contentType: string;
  /**
   * The exact number of bytes `stream` yields, when known (e.g. the upstream `Content-Length`
   * of an uncompressed response). It lets the core answer waiters before the fill completes
   * (HEAD at once, GET while the bytes arrive), and the store refuses to commit any other size.
   */
  size?: number;
}

/** What a `verify` hook is shown before an object is committed. */
export interface VerifyInput {
  /** Cache key being committed. */
  key: string;
  /** Lowercase hex SHA-256 of the staged bytes. */
  sha256: string;
  /** Size of the staged bytes. */
  size: number;
  /** Local path of the staged (not yet visible) bytes; read-only for the hook. */
  stagedPath: string;
}

/** What an `annotate` hook is shown after an object was committed. */
export interface AnnotateInput {
  /** Cache key of the committed object. */
  key: string;
  /** Lowercase hex SHA-256 of the committed bytes. */
  sha256: string;
  /** Size of the committed bytes. */
  size: number;
  /**
   * Local path of the committed object; read-only for the hook. It may be replaced while the
   * hook runs: the annotation is only recorded if the object still has `sha256` afterwards.
   */
  path: string;
}

/** A cached object as a `serve` hook sees it. */
export interface CachedObject {
  /** Metadata from the sidecar. */
  meta: ObjectInfo;
  /** Reads the whole object (small metadata objects only). */
  bytes(): Promise<Uint8Array>;
}

/** The store's view of one committed object (see `store.ts`). */
export interface ObjectInfo {
  /** Cache key: the object's relative path under the cache root, `/`-separated. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** Lowercase hex SHA-256 of the object. */
  sha256: string;
  /** Kind recorded at commit time. */
  kind: RouteKind;
  /** Content type recorded at commit time. */
  contentType: string;
  /** When the object was fetched from upstream. */
  fetchedAt: Date;
  /** Free-form fields a mirror added (e.g. a provider zip's `h1:` hash). */
  extra: Record<string, unknown>;
}

/** A routed request: what to cache under which key, and how to obtain it on a miss. */
export interface Route {
  /** Canonical cache key (relative object path, `/`-separated). Empty for passthrough routes. */
  key: string;
  /** Caching policy. */
  kind: RouteKind;
  /** The single upstream request made on a miss (or every time for passthrough). */
  upstream?: UpstreamRequest;
  /** Builds composite metadata from one or more upstream calls. Wins over `upstream`. */
  produce?: (ctx: RouteContext) => Promise<ProducedMetadata>;
  /** Generates an artifact stream. Wins over `produce` and `upstream`. */
  produceArtifact?: (ctx: RouteContext) => Promise<ProducedArtifact>;
  /**
   * Integrity gate run on the staged bytes before commit. Throw to reject (nothing is stored);
   * return fields to merge into the sidecar's `extra`.
   */
  verify?: (input: VerifyInput) => Promise<Record<string, unknown> | void>;
  /**
   * Post-commit annotation, run in the background after a fill committed the object (never on
   * the critical path of any request): returns fields merged into the sidecar's `extra` with
   * `Store.annotate`, i.e. only if the object still has the same SHA-256. It must not
   * be an integrity gate (that is `verify`): readers of its fields cope with them being absent
   * for a moment, or for good when the hook failed (it is logged, not retried). `shutdown()`
   * and `settled()` wait for it. Runs only on stores that expose local paths.
   */
  annotate?: (input: AnnotateInput) => Promise<Record<string, unknown>>;
  /** Renders the response from the cached object at serve time (hit and post-fill). */
  serve?: (object: CachedObject, ctx: RouteContext, request: Request) => Promise<Response>;
  /** Passthrough only: rewrites upstream response headers before they reach the client. */
  headerRewrite?: (headers: Headers, baseUrl: URL) => void;
  /** Content type served; falls back to the stored type. */
  contentType?: string;
  /**
   * Methods accepted besides GET and HEAD (e.g. `["POST"]` for git's upload-pack). For those,
   * the request body is left unread for the `serve` hook.
   */
  methods?: readonly string[];
}

/** A protocol adapter: claims requests by path and maps each one to a {@linkcode Route}. */
export interface Mirror {
  /** Short name for logs and reports, e.g. `providers`. */
  readonly name: string;
  /**
   * Methods this mirror may accept besides GET and HEAD (each route still opts in through
   * `Route.methods`). Requests with other methods get 405 without being routed.
   */
  readonly methods?: readonly string[];
  /** Whether this mirror owns the request path (already stripped of the per-run secret prefix). */
  handles(path: string): boolean;
  /**
   * Maps the request to a route. `path` is the request path relative to the cache base URL,
   * without a leading slash (e.g. `providers/registry.terraform.io/hashicorp/aws/index.json`).
   * Throw an `HttpError` for answers such as 404 (unknown provider) or 400 (bad path).
   */
  route(request: Request, path: string, ctx: RouteContext): Promise<Route>;
}

/**
 * Makes the propagated fetch for one inbound request (or for work with no inbound request, such
 * as background revalidation or the `lock` command, when `inbound` is undefined).
 * Implemented by `createUpstreamClient` in `upstream.ts`.
 */
export type UpstreamFetchFactory = (inbound: Request | undefined) => UpstreamFetch;

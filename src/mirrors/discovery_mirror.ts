/**
 * Caches registry hosts' service discovery documents (`/.well-known/terraform.json`), so that a
 * warm run needs no discovery round trip and an offline run still knows each host's services.
 *
 * Route: `discovery/<host>` → metadata object `discovery/<host>.json`. The cached document has
 * every service URL made absolute against the final (post-redirect) URL of the upstream
 * document, so it can be served and resolved without knowing where it came from. A host without
 * a discovery document (404) is cached as `{}`: it offers no services.
 *
 * @module
 */

import { HttpError } from "../proxy/errors.ts";
import type { Mirror, ProducedMetadata, Route, RouteContext } from "../proxy/route.ts";
import { normalizeHostname } from "../registry/provider_address.ts";
import {
  MAX_REGISTRY_JSON_BYTES,
  readLimited,
  throwStatus,
  upstreamGet,
} from "./provider_upstream.ts";

const JSON_TYPE = "application/json";

/** Path prefix of this mirror's routes. */
export const DISCOVERY_PREFIX = "discovery/";

/** A {@linkcode Mirror} that caches service discovery documents. */
export class DiscoveryMirror implements Mirror {
  /** Mirror name for logs. */
  readonly name = "discovery";

  /** Whether the path is under `discovery/`. */
  handles(path: string): boolean {
    return path.startsWith(DISCOVERY_PREFIX);
  }

  /**
   * Routes `discovery/<host>`.
   *
   * @throws {HttpError} 400 when the host is not a valid registry hostname.
   */
  // deno-lint-ignore require-await -- async so that refusals are rejections, like other mirrors
  async route(_request: Request, path: string, _ctx: RouteContext): Promise<Route> {
    const given = path.slice(DISCOVERY_PREFIX.length);
    let host: string;
    try {
      host = normalizeHostname(given);
    } catch (error) {
      throw new HttpError(400, `Cannot discover services of "${given}": not a hostname`, {
        cause: error,
      });
    }
    if (host !== given) {
      throw new HttpError(400, `Cannot discover services of "${given}": use "${host}"`);
    }
    return {
      key: `${DISCOVERY_PREFIX}${host}.json`,
      kind: "metadata",
      contentType: JSON_TYPE,
      produce: (ctx) => produceDiscovery(ctx, host),
    };
  }
}

async function produceDiscovery(ctx: RouteContext, host: string): Promise<ProducedMetadata> {
  const url = `https://${host}/.well-known/terraform.json`;
  const response = await upstreamGet(ctx, url, "metadata", JSON_TYPE);
  if (response.status === 404) {
    await response.body?.cancel();
    return { body: new TextEncoder().encode("{}"), contentType: JSON_TYPE };
  }
  if (response.status !== 200) await throwStatus(response, url);
  const mediaType = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
  if (mediaType.toLowerCase() !== JSON_TYPE) {
    await response.body?.cancel();
    throw new HttpError(
      502,
      `Cannot use the discovery document of "${host}": content type "${mediaType}" is not ${JSON_TYPE}`,
    );
  }
  const bytes = await readLimited(response, MAX_REGISTRY_JSON_BYTES, url);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new HttpError(502, `Cannot parse the discovery document of "${host}": not JSON`, {
      cause: error,
    });
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new HttpError(502, `Cannot use the discovery document of "${host}": not a JSON object`);
  }
  const base = response.url !== "" ? response.url : url;
  const absolute: Record<string, unknown> = {};
  for (const [id, value] of Object.entries(doc)) {
    absolute[id] = typeof value === "string" ? absolutize(value, base) : value;
  }
  return { body: new TextEncoder().encode(JSON.stringify(absolute)), contentType: JSON_TYPE };
}

function absolutize(value: string, base: string): string {
  try {
    return new URL(value, base).href;
  } catch {
    return value; // Left as is: the discovery client reports the invalid URL.
  }
}

/**
 * Wraps a fetch so that discovery requests (`https://<host>/.well-known/terraform.json`) go
 * through the cache's {@linkcode DiscoveryMirror} in process; every other request goes to `next`.
 *
 * @param cacheFetch Answers a request to the cache (e.g. the cache handler's `handle`).
 * @param baseUrl The cache's base URL (with its secret prefix).
 * @param next The fetch for everything else.
 * @returns The wrapped fetch.
 */
export function discoveryThroughCache<I extends { signal?: AbortSignal }>(
  cacheFetch: (request: Request) => Promise<Response>,
  baseUrl: URL,
  next: (url: string | URL, init?: I) => Promise<Response>,
): (url: string | URL, init?: I) => Promise<Response> {
  return (url, init) => {
    const target = new URL(url);
    if (target.protocol === "https:" && target.pathname === "/.well-known/terraform.json") {
      const request = new Request(new URL(`${DISCOVERY_PREFIX}${target.host}`, baseUrl), {
        ...(init?.signal !== undefined ? { signal: init.signal } : {}),
      });
      return cacheFetch(request);
    }
    return next(url, init);
  };
}

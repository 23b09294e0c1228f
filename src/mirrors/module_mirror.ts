/**
 * The module registry protocol towards Terraform/OpenTofu, cached.
 *
 * Inbound paths (relative to the cache base URL):
 * - `modules/<host>/<ns>/<name>/<system>/versions` → metadata `…/versions.json` (verbatim upstream body);
 * - `modules/<host>/<ns>/<name>/<system>/<version>/download` → metadata `…/<version>/download.json`
 *   caching the *upstream* source string (relative values resolved against the download URL),
 *   rendered at serve time in the upstream's form (204 + `X-Terraform-Get`, 200 + JSON
 *   `location`, or 200 with both, which Terraform 1.x needs: it reads only the header) pointing at `modules/_source/<sha256>.tar.gz//<subdir>` on this cache;
 * - `modules/_source/<sha256>.tar.gz` → artifact: the source fetched and packed deterministically;
 * - any other `modules/<host>/…` → uncached passthrough to the host's `modules.v1` service.
 *
 * The `_source` id is the SHA-256 of the canonical source base; the mirror learns id → source when
 * it renders a download response, so `_source` only ever fetches sources that a registry named
 * (no source strings or credentials in URLs). Sources the cache cannot fetch (s3::, gcs::, hg::,
 * HTTP without an archive suffix, …) are handed to Terraform unchanged.
 *
 * @module
 */

import { BodyTooLargeError, readBounded } from "../_shared/bytes.ts";
import { HttpError, UpstreamStatusError } from "../proxy/errors.ts";
import type { CachedObject, Mirror, Route, RouteContext } from "../proxy/route.ts";
import {
  type ClassifyOptions,
  classifySource,
  normalizeSource,
  sourceId,
} from "./module_source_address.ts";
import { type ModuleSourceOptions, produceModuleSource } from "./module_source.ts";

/** Resolves a registry host to its `modules.v1` base URL (service discovery). */
export type ModulesDiscovery = (host: string) => Promise<URL>;

/** Options for {@linkcode ModuleMirror}. */
export interface ModuleMirrorOptions extends ClassifyOptions {
  /** Service discovery for `modules.v1` (injected; see `src/registry/service_discovery.ts`). */
  discover: ModulesDiscovery;
  /** Source fetch settings (git executable, limits, temp dir, download cap). */
  source?: Omit<ModuleSourceOptions, "fetch" | "signal" | "allowFileRemotes">;
  /** How many source ids to remember (oldest forgotten first); default 10 000. */
  maxSourceIds?: number;
  /** Largest registry JSON body accepted; default 8 MiB. */
  maxMetadataBytes?: number;
}

/** The payload cached for a download resolution. */
export interface DownloadResolution {
  /** The upstream go-getter source (relative values already resolved); the JSON one for `both`. */
  source: string;
  /**
   * How upstream answered: 204/2xx + `X-Terraform-Get` header, 200 + JSON `location`, or 200
   * with both (each is served back, so Terraform reads the header and OpenTofu the body).
   */
  form: "header" | "json" | "both";
  /** For `both`, when the header named a different source than the JSON body. */
  headerSource?: string;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const HOST = /^[a-z0-9]([a-z0-9.-]{0,252})(:[0-9]{1,5})?$/;
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,127}$/;
const SOURCE_PATH = /^modules\/_source\/([0-9a-f]{64})\.tar\.gz$/;

/** A {@linkcode Mirror} for the module registry protocol. */
export class ModuleMirror implements Mirror {
  /** Mirror name for logs. */
  readonly name = "modules";
  readonly #options: ModuleMirrorOptions;
  readonly #sources = new Map<string, string>();

  /** @param options Discovery and source-fetch settings. */
  constructor(options: ModuleMirrorOptions) {
    this.#options = options;
  }

  /** Whether the path is under `modules/`. */
  handles(path: string): boolean {
    return path === "modules" || path.startsWith("modules/");
  }

  /**
   * The source base a `_source` id stands for, when this mirror has rendered it.
   *
   * @param id 64 hex characters.
   */
  sourceFor(id: string): string | undefined {
    return this.#sources.get(id);
  }

  /** Maps a `modules/…` request to a route (see the module docs for the shapes). */
  async route(request: Request, path: string, _ctx: RouteContext): Promise<Route> {
    const m = SOURCE_PATH.exec(path);
    if (m !== null) return this.#sourceRoute(path, m[1] ?? "");
    if (path.startsWith("modules/_source/")) {
      throw new HttpError(
        404,
        `Cannot find module source "${path}": expected _source/<sha256>.tar.gz`,
      );
    }
    const segments = path.split("/").slice(1);
    const host = (segments[0] ?? "").toLowerCase();
    if (!HOST.test(host) || host.includes("..")) {
      throw new HttpError(
        400,
        `Cannot route "${path}": "${segments[0] ?? ""}" is not a registry host`,
      );
    }
    const rest = segments.slice(1);
    if (
      rest.length === 0 || rest.some((s) => s === "" || s === "." || s === ".." || s.includes("\\"))
    ) {
      throw new HttpError(400, `Cannot route "${path}": malformed module path`);
    }
    const [ns = "", name = "", system = ""] = rest;
    const isModule = rest.length >= 4 && [ns, name, system].every((s) => SEGMENT.test(s));
    const prefix = `modules/${host}/${ns}/${name}/${system}`;
    if (isModule && rest.length === 4 && rest[3] === "versions" && request.method !== "POST") {
      const tail = `${ns}/${name}/${system}/versions`;
      return {
        key: `${prefix}/versions.json`,
        kind: "metadata",
        contentType: "application/json",
        produce: (ctx) => this.#produceJson(host, tail, ctx),
      };
    }
    const version = rest[3] ?? "";
    if (
      isModule && rest.length === 5 && rest[4] === "download" && VERSION.test(version) &&
      request.method !== "POST"
    ) {
      const tail = `${ns}/${name}/${system}/${version}/download`;
      return {
        key: `${prefix}/${version}/download.json`,
        kind: "metadata",
        contentType: "application/json",
        produce: (ctx) => this.#produceDownload(host, tail, ctx),
        serve: (object, ctx) => this.#serveDownload(object, ctx),
      };
    }
    return await this.#passthrough(host, rest, new URL(request.url).search);
  }

  async #passthrough(host: string, rest: string[], search: string): Promise<Route> {
    const base = await this.#discover(host);
    const url = new URL(rest.map(encodeURIComponent).join("/"), base);
    url.search = search;
    return { key: "", kind: "passthrough", upstream: { url: url.href } };
  }

  async #discover(host: string): Promise<URL> {
    const url = await this.#options.discover(host);
    return url.href.endsWith("/") ? url : new URL(`${url.href}/`);
  }

  async #getJson(host: string, tail: string, ctx: RouteContext): Promise<Response> {
    const url = new URL(tail, await this.#discover(host));
    const response = await ctx.fetch(url, { purpose: "metadata", signal: ctx.signal });
    if (!response.ok && response.status !== 204) {
      throw new UpstreamStatusError(
        response.status,
        url.href,
        response.headers,
        await this.#readBounded(response, url.href),
      );
    }
    return response;
  }

  async #readBounded(response: Response, url: string): Promise<Uint8Array> {
    const max = this.#options.maxMetadataBytes ?? 8 * 1024 * 1024;
    try {
      return await readBounded(response, max);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        throw new HttpError(502, `Cannot read "${url}": the registry answered over ${max} bytes`);
      }
      throw error;
    }
  }

  async #produceJson(host: string, tail: string, ctx: RouteContext) {
    const url = new URL(tail, await this.#discover(host));
    const response = await this.#getJson(host, tail, ctx);
    const body = await this.#readBounded(response, url.href);
    return { body, contentType: "application/json" };
  }

  async #produceDownload(host: string, tail: string, ctx: RouteContext) {
    const url = new URL(tail, await this.#discover(host));
    const response = await this.#getJson(host, tail, ctx);
    const body = await this.#readBounded(response, url.href);
    const resolution = parseDownloadResponse(response.status, response.headers, body, url);
    return {
      body: new TextEncoder().encode(`${JSON.stringify(resolution)}\n`),
      contentType: "application/json",
      extra: { form: resolution.form },
    };
  }

  async #serveDownload(object: CachedObject, ctx: RouteContext): Promise<Response> {
    const resolution = decodeResolution(await object.bytes(), object.meta.key);
    const location = await this.renderLocation(resolution.source, ctx.baseUrl);
    if (resolution.form === "header") {
      return new Response(null, { status: 204, headers: { "X-Terraform-Get": location } });
    }
    const headers = new Headers({ "Content-Type": "application/json" });
    if (resolution.form === "both") {
      const header = resolution.headerSource === undefined
        ? location
        : await this.renderLocation(resolution.headerSource, ctx.baseUrl);
      headers.set("X-Terraform-Get", header);
    }
    return new Response(`${JSON.stringify({ location })}\n`, { status: 200, headers });
  }

  /**
   * The source handed to Terraform for an upstream source: `<baseUrl>modules/_source/<id>.tar.gz`
   * plus `//<subdir>`, or the upstream string unchanged when the cache cannot fetch it. Remembers
   * id → source for the `_source` route.
   *
   * @param source Upstream go-getter source (absolute).
   * @param baseUrl This cache's base URL for this run (trailing slash).
   */
  async renderLocation(source: string, baseUrl: URL): Promise<string> {
    let normalized;
    try {
      normalized = normalizeSource(source);
      if (classifySource(normalized, this.#options).type === "unsupported") return source;
    } catch {
      return source; // let Terraform report what it makes of it
    }
    const id = await sourceId(normalized.base);
    this.#remember(id, normalized.base);
    const url = new URL(`modules/_source/${id}.tar.gz`, baseUrl).href;
    return normalized.subdir === "" ? url : `${url}//${normalized.subdir}`;
  }

  #remember(id: string, base: string): void {
    this.#sources.delete(id);
    this.#sources.set(id, base);
    const max = this.#options.maxSourceIds ?? 10_000;
    while (this.#sources.size > max) {
      const oldest = this.#sources.keys().next().value;
      if (oldest === undefined) break;
      this.#sources.delete(oldest);
    }
  }

  /**
   * Refused (404) at routing time, before the store is consulted, unless this process rendered
   * the id: an artifact another process cached is served only to a client that went through
   * the module's download endpoint here.
   */
  #sourceRoute(key: string, id: string): Route {
    const base = this.#sources.get(id);
    if (base === undefined) {
      throw new HttpError(
        404,
        `Cannot find module source ${id}: this cache has not resolved it; ` +
          "request the module's download endpoint through this cache first",
      );
    }
    return {
      key,
      kind: "artifact",
      contentType: "application/gzip",
      produceArtifact: (ctx) => {
        return produceModuleSource(base, {
          ...this.#options.source,
          ...(this.#options.allowFileRemotes === undefined
            ? {}
            : { allowFileRemotes: this.#options.allowFileRemotes }),
          fetch: ctx.fetch,
          signal: ctx.signal,
        });
      },
    };
  }
}

/**
 * Extracts the source from a registry download response: a 200 JSON body with a non-empty
 * `location` wins (OpenTofu's form); otherwise a non-empty `X-Terraform-Get` header. When both
 * are present the form is `both` (the header's source is kept too when it differs). Relative
 * values (`/…`, `./…`, `../…`) are resolved against the download URL, as Terraform does.
 *
 * @param status Upstream status (2xx).
 * @param headers Upstream headers.
 * @param body Upstream body.
 * @param downloadUrl The download endpoint URL.
 * @returns The resolution to cache.
 * @throws {HttpError} 502 when neither form carries a source.
 */
export function parseDownloadResponse(
  status: number,
  headers: Headers,
  body: Uint8Array,
  downloadUrl: URL,
): DownloadResolution {
  let json = "";
  if (status === 200 && body.byteLength > 0) {
    try {
      const parsed: unknown = JSON.parse(new TextDecoder().decode(body));
      if (typeof parsed === "object" && parsed !== null && "location" in parsed) {
        const value = (parsed as { location: unknown }).location;
        if (typeof value === "string") json = value.trim();
      }
    } catch {
      // not JSON: fall back to the header
    }
  }
  const header = (headers.get("X-Terraform-Get") ?? "").trim();
  if (json === "" && header === "") {
    throw new HttpError(
      502,
      `Cannot resolve "${downloadUrl.href}": the registry answered ${status} with neither an ` +
        "X-Terraform-Get header nor a JSON location",
    );
  }
  const resolve = (location: string): string => {
    if (location.length > 8192) {
      throw new HttpError(502, `Cannot resolve "${downloadUrl.href}": the source is over 8 KiB`);
    }
    if (location.startsWith("/") || location.startsWith("./") || location.startsWith("../")) {
      return new URL(location, downloadUrl).href;
    }
    return location;
  };
  if (json === "") return { source: resolve(header), form: "header" };
  const source = resolve(json);
  if (header === "") return { source, form: "json" };
  const headerSource = resolve(header);
  return headerSource === source
    ? { source, form: "both" }
    : { source, form: "both", headerSource };
}

function decodeResolution(bytes: Uint8Array, key: string): DownloadResolution {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new HttpError(500, `Cannot read cached object "${key}": not JSON`, { cause });
  }
  const r = parsed as Partial<DownloadResolution> | null;
  if (
    r === null || typeof r !== "object" || typeof r.source !== "string" || r.source === "" ||
    (r.form !== "header" && r.form !== "json" && r.form !== "both") ||
    (r.headerSource !== undefined && (typeof r.headerSource !== "string" || r.headerSource === ""))
  ) {
    throw new HttpError(500, `Cannot read cached object "${key}": not a download resolution`);
  }
  return {
    source: r.source,
    form: r.form,
    ...(r.headerSource === undefined ? {} : { headerSource: r.headerSource }),
  };
}

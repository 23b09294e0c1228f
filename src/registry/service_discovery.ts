/**
 * Terraform remote service discovery: `GET https://<host>/.well-known/terraform.json`.
 *
 * Behaviour follows terraform's `svchost/disco` package:
 * - the document is fetched over HTTPS with `Accept: application/json`, its media type must be
 *   `application/json`, its body at most 1 MiB and a JSON object;
 * - a 404 means the host offers no services at all (cached like a success);
 * - a service value is a URL string resolved against the document's final URL (after
 *   redirects); it must be `http`/`https` without userinfo; the fragment is dropped and a
 *   trailing `/` ensured, because endpoint paths are resolved relative to it;
 * - **no fallback**: a failure (unreachable host, bad status, invalid JSON, service missing) is
 *   an error. The Atmos proxy silently falls back to `https://<host>/v1/providers/` and even
 *   memoises that guess; terraform does not, and neither do we, because a guessed URL turns a
 *   clear "host does not offer providers" into a confusing 404 further down.
 * - successes are memoised per instance (and concurrent lookups share one request); failures
 *   are shared by the callers waiting at that moment but not memoised, so a later call retries.
 *
 * Host overrides (tests, CLI-config `host` blocks) replace discovery for that host entirely, as
 * terraform's `host "example.com" { services = {…} }` does: no request is made and only the
 * listed services exist.
 *
 * @module
 */

import { abortable } from "../_shared/abortable.ts";
import { BodyTooLargeError } from "../_shared/bytes.ts";
import { effectiveUrl, MAX_JSON_BYTES, readJsonBody, withTimeout } from "./_http.ts";
import { DiscoveryDocumentError, HostUnreachableError, ServiceNotOfferedError } from "./errors.ts";
import type { FetchLike } from "./fetch_like.ts";
import { normalizeHostname } from "./provider_address.ts";

/** Path of the discovery document on every host. */
export const DISCOVERY_PATH = "/.well-known/terraform.json";

/** The service id of the provider registry protocol. */
export const PROVIDERS_V1 = "providers.v1";
/** The service id of the module registry protocol. */
export const MODULES_V1 = "modules.v1";

/** Per-host service URL overrides: `{ "host": { "providers.v1": "http://127.0.0.1:1234/v1/providers/" } }`. */
export type ServiceOverrides = Readonly<Record<string, Readonly<Record<string, string>>>>;

/** Options for {@linkcode ServiceDiscovery}. */
export interface ServiceDiscoveryOptions {
  /** The injected HTTP function. */
  fetch: FetchLike;
  /** Hosts whose services are given here instead of being discovered. */
  overrides?: ServiceOverrides;
  /** Timeout for the whole discovery request, body included (default 11 s, as terraform). */
  timeoutMs?: number;
  /** Maximum discovery document size (default 1 MiB). */
  maxBodyBytes?: number;
}

/** The services one host offers, keyed by service id. Values are raw (unresolved) strings. */
export interface DiscoveredHost {
  /** Normalised hostname. */
  readonly host: string;
  /** URL the document was read from (final URL after redirects), or the override base. */
  readonly documentUrl: URL;
  /** Raw service values, e.g. `{"providers.v1": "/v1/providers/"}`. */
  readonly services: Readonly<Record<string, unknown>>;
}

/**
 * Discovers and memoises the services of registry hosts.
 *
 * @example
 * ```ts
 * import { ServiceDiscovery } from "./service_discovery.ts";
 * const disco = new ServiceDiscovery({
 *   fetch: (url, init) => fetch(url, init),
 *   // A CLI-config host block; without it the host's /.well-known/terraform.json is fetched.
 *   overrides: { "registry.example": { "providers.v1": "/v1/providers" } },
 * });
 * const base = await disco.providersUrl("registry.example");
 * console.assert(base.href === "https://registry.example/v1/providers/");
 * ```
 */
export class ServiceDiscovery {
  readonly #fetch: FetchLike;
  readonly #overrides: Map<string, Readonly<Record<string, string>>>;
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;
  readonly #cache = new Map<string, Promise<DiscoveredHost>>();

  /**
   * @param options The fetch function, host overrides and limits.
   * @throws {import("./provider_address.ts").InvalidHostnameError} when an override key is not a valid hostname.
   */
  constructor(options: ServiceDiscoveryOptions) {
    this.#fetch = options.fetch;
    this.#timeoutMs = options.timeoutMs ?? 11_000;
    this.#maxBodyBytes = options.maxBodyBytes ?? MAX_JSON_BYTES;
    this.#overrides = new Map();
    for (const [host, services] of Object.entries(options.overrides ?? {})) {
      this.#overrides.set(normalizeHostname(host), services);
    }
  }

  /**
   * The base URL of a service on a host, always ending in `/`.
   *
   * @param host Hostname, optionally with `:port` (Unicode or ASCII form).
   * @param service Service id, e.g. {@linkcode PROVIDERS_V1}.
   * @param options `signal` aborts this caller's wait (not a shared in-flight request).
   * @returns The absolute base URL.
   * @throws {ServiceNotOfferedError} when the host does not offer the service.
   * @throws {HostUnreachableError} when the host cannot be reached.
   * @throws {DiscoveryDocumentError} when the document or the service value is invalid.
   */
  async serviceUrl(
    host: string,
    service: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<URL> {
    const discovered = await this.discover(host, options);
    const raw = discovered.services[service];
    if (raw === undefined) {
      const family = service.replace(/\.v[0-9.]+$/, ".");
      const hasOther = Object.keys(discovered.services).some((k) =>
        k !== service && k.startsWith(family)
      );
      throw new ServiceNotOfferedError(discovered.host, service, hasOther);
    }
    return _resolveServiceUrl(discovered, service, raw);
  }

  /**
   * The base URL of the provider registry protocol (`providers.v1`) on a host.
   *
   * @param host Hostname, optionally with `:port`.
   * @param options `signal` aborts this caller's wait.
   * @returns The absolute base URL, ending in `/`.
   */
  providersUrl(host: string, options: { signal?: AbortSignal } = {}): Promise<URL> {
    return this.serviceUrl(host, PROVIDERS_V1, options);
  }

  /**
   * The base URL of the module registry protocol (`modules.v1`) on a host.
   *
   * @param host Hostname, optionally with `:port`.
   * @param options `signal` aborts this caller's wait.
   * @returns The absolute base URL, ending in `/`.
   */
  modulesUrl(host: string, options: { signal?: AbortSignal } = {}): Promise<URL> {
    return this.serviceUrl(host, MODULES_V1, options);
  }

  /**
   * The raw discovery result for a host (memoised; concurrent calls share one request).
   *
   * @param host Hostname, optionally with `:port`.
   * @param options `signal` aborts this caller's wait.
   * @returns The host's services.
   * @throws {import("./provider_address.ts").InvalidHostnameError} when `host` is not a valid hostname.
   * @throws {HostUnreachableError} when the host cannot be reached.
   * @throws {DiscoveryDocumentError} when the document is invalid.
   */
  discover(host: string, options: { signal?: AbortSignal } = {}): Promise<DiscoveredHost> {
    const normalized = normalizeHostname(host);
    let pending = this.#cache.get(normalized);
    if (pending === undefined) {
      pending = this.#load(normalized);
      this.#cache.set(normalized, pending);
      pending.catch(() => {
        if (this.#cache.get(normalized) === pending) this.#cache.delete(normalized);
      });
    }
    return abortable(pending, options.signal);
  }

  /** Forgets every memoised result. */
  clear(): void {
    this.#cache.clear();
  }

  #load(host: string): Promise<DiscoveredHost> {
    const url = new URL(`https://${host}${DISCOVERY_PATH}`);
    const override = this.#overrides.get(host);
    if (override !== undefined) {
      return Promise.resolve({ host, documentUrl: url, services: { ...override } });
    }
    return withTimeout(this.#timeoutMs, undefined, async (signal) => {
      let response: Response;
      try {
        response = await this.#fetch(url, {
          headers: { accept: "application/json" },
          purpose: "metadata",
          ...(signal === undefined ? {} : { signal }),
        });
      } catch (cause) {
        throw new HostUnreachableError(host, url.href, { cause });
      }
      const finalUrl = effectiveUrl(response, url);
      if (response.status === 404) {
        await response.body?.cancel();
        return { host, documentUrl: finalUrl, services: {} };
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new DiscoveryDocumentError(host, url.href, `server answered ${response.status}`, {
          status: response.status,
        });
      }
      const contentType = response.headers.get("content-type") ?? "";
      const mediaType = contentType.split(";")[0]!.trim().toLowerCase();
      if (mediaType !== "application/json") {
        await response.body?.cancel();
        throw new DiscoveryDocumentError(
          host,
          url.href,
          `content type is "${contentType}", not "application/json"`,
        );
      }
      let bytes: Uint8Array;
      try {
        bytes = await readJsonBody(response, this.#maxBodyBytes);
      } catch (cause) {
        if (cause instanceof BodyTooLargeError) {
          throw new DiscoveryDocumentError(host, url.href, cause.message, { cause });
        }
        throw new HostUnreachableError(host, url.href, { cause });
      }
      let doc: unknown;
      try {
        doc = JSON.parse(new TextDecoder().decode(bytes));
      } catch (cause) {
        throw new DiscoveryDocumentError(host, url.href, "body is not valid JSON", { cause });
      }
      if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
        throw new DiscoveryDocumentError(host, url.href, "body is not a JSON object");
      }
      return { host, documentUrl: finalUrl, services: doc as Record<string, unknown> };
    });
  }
}

function _resolveServiceUrl(discovered: DiscoveredHost, service: string, raw: unknown): URL {
  const where = discovered.documentUrl.href;
  if (typeof raw !== "string" || raw === "") {
    throw new DiscoveryDocumentError(
      discovered.host,
      where,
      `service "${service}" must be a non-empty URL string`,
    );
  }
  let resolved: URL;
  try {
    resolved = new URL(raw, discovered.documentUrl);
  } catch (cause) {
    throw new DiscoveryDocumentError(
      discovered.host,
      where,
      `service "${service}" has an invalid URL "${raw}"`,
      { cause },
    );
  }
  if (resolved.protocol !== "https:" && resolved.protocol !== "http:") {
    throw new DiscoveryDocumentError(
      discovered.host,
      where,
      `service "${service}" URL "${raw}" must use http or https`,
    );
  }
  if (resolved.username !== "" || resolved.password !== "") {
    throw new DiscoveryDocumentError(
      discovered.host,
      where,
      `service "${service}" URL must not contain credentials`,
    );
  }
  resolved.hash = "";
  if (!resolved.pathname.endsWith("/")) resolved.pathname += "/";
  return resolved;
}

/**
 * A provider network mirror (`provider_installation { network_mirror { url = "…" } }`,
 * reference-providercache §7.3): `GET <base><host>/<ns>/<type>/index.json` lists versions,
 * `GET …/<version>.json` lists archives per platform with their hashes. A package must then match
 * one of its reported hashes. Pointing `baseUrl` at the tfcache cache, with the cache's fetch,
 * makes this "the tfcache cache" source.
 *
 * Unlike terraform, an `http:` base URL is accepted (a cache on loopback); credentials are the
 * injected fetch's business.
 *
 * @module
 */

import type { FetchLike } from "../../registry/fetch_like.ts";
import { parseHash } from "../../registry/hashes.ts";
import { type Platform, platformString } from "../../registry/platform.ts";
import {
  hostnameForDisplay,
  type ProviderAddress,
  providerAddressString,
} from "../../registry/provider_address.ts";
import { type Version, versionString } from "../../registry/version.ts";
import { PackageNotAvailableError, SourceQueryError } from "../errors.ts";
import type { PackageMeta } from "../package_meta.ts";
import { getDocument, parseJsonObject } from "./_http.ts";
import { parseVersionList } from "./_versions.ts";
import type { AvailableVersions, ProviderSource, SourceCallOptions } from "./source.ts";

/** Options for {@linkcode NetworkMirrorSource}. */
export interface NetworkMirrorSourceOptions {
  /** The mirror's base URL (a trailing `/` is added when missing). */
  baseUrl: string;
  /** The HTTP function (default: global `fetch`). */
  fetch?: FetchLike;
  /** Sent as `X-Terraform-Version` when set. */
  terraformVersion?: string;
}

/** Packages from a network mirror. */
export class NetworkMirrorSource implements ProviderSource {
  readonly #base: string;
  readonly #fetch: FetchLike;
  readonly #headers: Record<string, string>;

  /**
   * @param options Base URL, fetch, terraform version header.
   * @throws {TypeError} when the base URL is not http(s).
   */
  constructor(options: NetworkMirrorSourceOptions) {
    const base = new URL(options.baseUrl.endsWith("/") ? options.baseUrl : options.baseUrl + "/");
    if (base.protocol !== "https:" && base.protocol !== "http:") {
      throw new TypeError(`Network mirror URL "${options.baseUrl}" must use https (or http)`);
    }
    this.#base = base.href;
    this.#fetch = options.fetch ?? ((u, i) => fetch(u, i));
    this.#headers = { accept: "application/json" };
    if (options.terraformVersion !== undefined) {
      this.#headers["x-terraform-version"] = options.terraformVersion;
    }
  }

  #prefix(provider: ProviderAddress): string {
    return new URL(
      `${encodeURIComponent(hostnameForDisplay(provider.hostname))}/${
        encodeURIComponent(provider.namespace)
      }/${encodeURIComponent(provider.type)}/`,
      this.#base,
    ).href;
  }

  /**
   * @param provider The provider.
   * @param options Abort signal.
   * @returns The versions of `index.json` (invalid keys skipped with a warning).
   * @throws {SourceQueryError} on 404 (provider not in the mirror) and any other failure.
   */
  async availableVersions(
    provider: ProviderAddress,
    options: SourceCallOptions = {},
  ): Promise<AvailableVersions> {
    const url = this.#prefix(provider) + "index.json";
    const doc = await this.#get(url, provider, options.signal);
    if (doc === undefined) {
      throw new SourceQueryError(
        `provider ${
          providerAddressString(provider)
        } was not found in the provider mirror at ${this.#base}`,
        { status: 404 },
      );
    }
    const raw = doc["versions"];
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new SourceQueryError(
        `failed to query provider mirror ${this.#base} for ${
          providerAddressString(provider)
        }: "versions" must be an object`,
      );
    }
    const warnings: string[] = [];
    const versions = parseVersionList(
      Object.keys(raw),
      (key) => warnings.push(`ignoring invalid version "${key}" in ${url}`),
    );
    return { versions, warnings };
  }

  /**
   * @param provider The provider.
   * @param version The version.
   * @param platform The platform.
   * @param options Abort signal.
   * @returns The archive's location (resolved against the JSON document's final URL) and its
   *   reported hashes as authentication.
   * @throws {PackageNotAvailableError} when the mirror has no archive for the platform.
   * @throws {SourceQueryError} on any other failure.
   */
  async packageMeta(
    provider: ProviderAddress,
    version: Version,
    platform: Platform,
    options: SourceCallOptions = {},
  ): Promise<PackageMeta> {
    const url = this.#prefix(provider) + `${encodeURIComponent(versionString(version))}.json`;
    const got = await this.#getWithUrl(url, provider, options.signal);
    if (got === undefined) {
      throw new SourceQueryError(
        `failed to query provider mirror ${this.#base} for ${
          providerAddressString(provider)
        }: provider mirror does not have archive index for previously-reported ${
          providerAddressString(provider)
        } version ${versionString(version)}`,
        { status: 404 },
      );
    }
    const archives = got.doc["archives"];
    const entry = typeof archives === "object" && archives !== null
      ? (archives as Record<string, unknown>)[platformString(platform)]
      : undefined;
    if (typeof entry !== "object" || entry === null) {
      throw new PackageNotAvailableError(
        `provider mirror ${this.#base} does not have a package of ${
          providerAddressString(provider)
        } ${versionString(version)} for ${platformString(platform)}`,
      );
    }
    const e = entry as Record<string, unknown>;
    if (typeof e["url"] !== "string" || e["url"] === "") {
      throw new SourceQueryError(`invalid archive entry in ${url}: "url" is missing`);
    }
    let archiveUrl: URL;
    try {
      archiveUrl = new URL(e["url"], got.url);
    } catch (cause) {
      throw new SourceQueryError(`invalid archive URL "${e["url"]}" in ${url}`, { cause });
    }
    const hashes: string[] = [];
    const rawHashes = e["hashes"];
    if (Array.isArray(rawHashes)) {
      for (const h of rawHashes) {
        if (typeof h !== "string") continue;
        try {
          parseHash(h);
        } catch (cause) {
          throw new SourceQueryError(`provider mirror returned invalid provider hash "${h}"`, {
            cause,
          });
        }
        hashes.push(h);
      }
    }
    const filename = decodeURIComponent(archiveUrl.pathname.split("/").at(-1) ?? "");
    return {
      provider,
      version,
      protocolVersions: [],
      targetPlatform: platform,
      filename,
      location: { kind: "http", url: archiveUrl.href, fetch: this.#fetch },
      authentication: hashes.length > 0 ? { kind: "reported-hashes", hashes } : undefined,
    };
  }

  async #get(
    url: string,
    provider: ProviderAddress,
    signal: AbortSignal | undefined,
  ): Promise<Record<string, unknown> | undefined> {
    return (await this.#getWithUrl(url, provider, signal))?.doc;
  }

  async #getWithUrl(
    url: string,
    provider: ProviderAddress,
    signal: AbortSignal | undefined,
  ): Promise<{ doc: Record<string, unknown>; url: URL } | undefined> {
    const got = await getDocument(this.#fetch, url, { signal, headers: this.#headers });
    if (got.status === 404) return undefined;
    if (got.status === 401 || got.status === 403) {
      throw new SourceQueryError(
        `host ${got.url.host} rejected the given authentication credentials`,
        { status: got.status },
      );
    }
    if (got.status !== 200) {
      throw new SourceQueryError(
        `failed to query provider mirror ${this.#base} for ${
          providerAddressString(provider)
        }: server returned unsuccessful status ${got.status}`,
        { status: got.status },
      );
    }
    const type = (got.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json") {
      throw new SourceQueryError(
        `failed to query provider mirror ${this.#base} for ${
          providerAddressString(provider)
        }: response has invalid Content-Type: must be application/json`,
      );
    }
    return { doc: parseJsonObject(got.body, url), url: got.url };
  }

  /**
   * @returns `provider mirror at <base>`.
   */
  forDisplay(): string {
    return `provider mirror at ${this.#base}`;
  }
}

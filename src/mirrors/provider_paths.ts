/**
 * Request paths and cache keys of the provider mirror.
 *
 * Two faces share one set of cached objects:
 *
 * - the provider **registry** protocol (terraform is pointed at it with a CLI-config `host` block):
 *   `registry/<host>/providers/v1/<ns>/<type>/versions`,
 *   `registry/<host>/providers/v1/<ns>/<type>/<version>/download/<os>/<arch>`, and the checksum
 *   files `registry/<host>/<ns>/<type>/<version>/SHA256SUMS` and `SHA256SUMS.sig`;
 * - the provider **network mirror** protocol: `providers/<host>/<ns>/<type>/index.json`,
 *   `providers/<host>/<ns>/<type>/<version>.json`, and the package
 *   `providers/<host>/<ns>/<type>/terraform-provider-<type>_<version>_<os>_<arch>.zip`, which both
 *   faces serve.
 *
 * Parsing is strict: every part is validated and must already be in Terraform's normalised form,
 * so one object has exactly one key and nothing can leave the cache root.
 *
 * @module
 */

import { HttpError } from "../proxy/errors.ts";
import { normalizeHostname, parseProviderPart } from "../registry/provider_address.ts";

/** A provider as it appears in a path: normalised host, namespace and type. */
export interface ProviderCoords {
  /** Normalised registry hostname, e.g. `registry.terraform.io` or `localhost:8443`. */
  readonly host: string;
  /** Namespace, e.g. `hashicorp`. */
  readonly namespace: string;
  /** Provider type, e.g. `aws` (dashes allowed, never underscores). */
  readonly type: string;
}

/** A provider version. */
export interface VersionCoords extends ProviderCoords {
  /** Version, e.g. `5.95.0` or `1.0.0-beta1`. */
  readonly version: string;
}

/** One platform package of a provider version. */
export interface PackageCoords extends VersionCoords {
  /** Operating system, e.g. `linux`. */
  readonly os: string;
  /** Architecture, e.g. `amd64`. */
  readonly arch: string;
}

/** A parsed provider-mirror request path. */
export type ProviderPath =
  | { readonly face: "registry"; readonly kind: "versions"; readonly coords: ProviderCoords }
  | { readonly face: "registry"; readonly kind: "download"; readonly coords: PackageCoords }
  | { readonly face: "registry"; readonly kind: "shasums"; readonly coords: VersionCoords }
  | { readonly face: "registry"; readonly kind: "shasums-sig"; readonly coords: VersionCoords }
  | { readonly face: "mirror"; readonly kind: "index"; readonly coords: ProviderCoords }
  | { readonly face: "mirror"; readonly kind: "version"; readonly coords: VersionCoords }
  | { readonly face: "mirror"; readonly kind: "zip"; readonly coords: PackageCoords };

/** File name of the checksum list inside a version directory. */
export const SHA256SUMS = "SHA256SUMS";
/** File name of the detached signature of {@linkcode SHA256SUMS}. */
export const SHA256SUMS_SIG = "SHA256SUMS.sig";

const VERSION_RE = /^[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
const PLATFORM_PART_RE = /^[a-z0-9]{1,32}$/;
const MAX_VERSION_LENGTH = 128;

/**
 * Whether a string is a provider version this mirror accepts (semantic version, optional
 * pre-release and build parts).
 *
 * @param version Candidate version.
 * @returns `true` when valid.
 */
export function isValidProviderVersion(version: string): boolean {
  return version.length <= MAX_VERSION_LENGTH && VERSION_RE.test(version);
}

/**
 * Whether a string is a valid OS or architecture name (Go's GOOS/GOARCH alphabet).
 *
 * @param part Candidate `os` or `arch`.
 * @returns `true` when valid.
 */
export function isValidPlatformPart(part: string): boolean {
  return PLATFORM_PART_RE.test(part);
}

function badRequest(path: string, reason: string): HttpError {
  const shown = path.length > 160 ? `${path.slice(0, 160)}…` : path;
  return new HttpError(400, `Cannot route provider path "${shown}": ${reason}`);
}

function notFound(path: string, reason: string): HttpError {
  const shown = path.length > 160 ? `${path.slice(0, 160)}…` : path;
  return new HttpError(404, `No provider object at "${shown}": ${reason}`);
}

function parseHost(path: string, given: string): string {
  let host: string;
  try {
    host = normalizeHostname(given);
  } catch (e) {
    throw badRequest(path, `invalid registry hostname "${given}": ${(e as Error).message}`);
  }
  if (host !== given) {
    throw badRequest(path, `hostname "${given}" is not in normalised form "${host}"`);
  }
  return host;
}

function parsePart(path: string, what: string, given: string): string {
  let part: string;
  try {
    part = parseProviderPart(given);
  } catch (e) {
    throw badRequest(path, `invalid provider ${what} "${given}": ${(e as Error).message}`);
  }
  if (part !== given) {
    throw badRequest(path, `provider ${what} "${given}" is not in normalised form "${part}"`);
  }
  return part;
}

function parseProvider(path: string, host: string, ns: string, type: string): ProviderCoords {
  return {
    host: parseHost(path, host),
    namespace: parsePart(path, "namespace", ns),
    type: parsePart(path, "type", type),
  };
}

function parseVersion(path: string, version: string): string {
  if (!isValidProviderVersion(version)) {
    throw badRequest(path, `invalid provider version "${version}"`);
  }
  return version;
}

function parsePlatformPart(path: string, what: string, value: string): string {
  if (!isValidPlatformPart(value)) throw badRequest(path, `invalid ${what} "${value}"`);
  return value;
}

/**
 * The canonical package file name, `terraform-provider-<type>_<version>_<os>_<arch>.zip`.
 *
 * @param c Package coordinates.
 * @returns The file name.
 */
export function packageFilename(c: PackageCoords): string {
  return `terraform-provider-${c.type}_${c.version}_${c.os}_${c.arch}.zip`;
}

/**
 * Parses a package file name for a known provider type. The type never contains `_`, so the
 * name splits into exactly four `_`-separated parts.
 *
 * @param path Whole request path (for messages).
 * @param provider The provider the file belongs to.
 * @param leaf The file name.
 * @returns The package coordinates.
 * @throws {HttpError} 404 when the name is not a package of this provider, 400 when a part is invalid.
 */
function parsePackageFilename(path: string, provider: ProviderCoords, leaf: string): PackageCoords {
  const prefix = "terraform-provider-";
  if (!leaf.startsWith(prefix) || !leaf.endsWith(".zip")) {
    throw notFound(path, `"${leaf}" is not a provider package name`);
  }
  const parts = leaf.slice(prefix.length, -".zip".length).split("_");
  if (parts.length !== 4) {
    throw notFound(
      path,
      `"${leaf}" is not named terraform-provider-<type>_<version>_<os>_<arch>.zip`,
    );
  }
  const [type, version, os, arch] = parts as [string, string, string, string];
  if (type !== provider.type) {
    throw notFound(path, `"${leaf}" is not a package of provider type "${provider.type}"`);
  }
  return {
    ...provider,
    version: parseVersion(path, version),
    os: parsePlatformPart(path, "operating system", os),
    arch: parsePlatformPart(path, "architecture", arch),
  };
}

/**
 * Whether a request path (relative to the cache base URL, no leading slash) belongs to the
 * provider mirror. Cheap prefix test; {@linkcode parseProviderPath} does the validation.
 *
 * @param path Decoded request path.
 * @returns `true` for `providers/…`, `registry/<host>/providers/v1/…` and
 *   `registry/<host>/<ns>/<type>/<version>/SHA256SUMS[.sig]`.
 */
export function isProviderPath(path: string): boolean {
  if (path.startsWith("providers/")) return true;
  if (!path.startsWith("registry/")) return false;
  const segments = path.split("/");
  if (segments[2] === "providers" && segments[3] === "v1") return true;
  const leaf = segments[segments.length - 1];
  return segments.length === 6 && (leaf === SHA256SUMS || leaf === SHA256SUMS_SIG);
}

/**
 * Parses and validates a provider-mirror request path.
 *
 * @param path Decoded request path relative to the cache base URL, without a leading slash.
 * @returns The parsed path.
 * @throws {HttpError} 400 for malformed parts (bad hostname, namespace, type, version, platform),
 *   404 for paths that name no provider object.
 * @example
 * ```ts
 * parseProviderPath("providers/registry.terraform.io/hashicorp/aws/index.json");
 * // { face: "mirror", kind: "index", coords: { host: "registry.terraform.io", namespace: "hashicorp", type: "aws" } }
 * ```
 */
export function parseProviderPath(path: string): ProviderPath {
  const segments = path.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) {
    throw badRequest(path, "empty, '.' or '..' path segment");
  }
  const [root, host, a, b, c, d, e, f, g, h] = segments;
  if (root === "providers") {
    if (segments.length !== 5) throw notFound(path, "expected providers/<host>/<ns>/<type>/<file>");
    const provider = parseProvider(path, host!, a!, b!);
    const leaf = c!;
    if (leaf === "index.json") return { face: "mirror", kind: "index", coords: provider };
    if (leaf.endsWith(".zip")) {
      return { face: "mirror", kind: "zip", coords: parsePackageFilename(path, provider, leaf) };
    }
    if (leaf.endsWith(".json")) {
      const version = parseVersion(path, leaf.slice(0, -".json".length));
      return { face: "mirror", kind: "version", coords: { ...provider, version } };
    }
    throw notFound(path, `unknown file "${leaf}"`);
  }
  if (root === "registry") {
    if (a === "providers" && b === "v1") {
      if (segments.length === 7 && e === "versions") {
        return { face: "registry", kind: "versions", coords: parseProvider(path, host!, c!, d!) };
      }
      if (segments.length === 10 && f === "download") {
        const provider = parseProvider(path, host!, c!, d!);
        return {
          face: "registry",
          kind: "download",
          coords: {
            ...provider,
            version: parseVersion(path, e!),
            os: parsePlatformPart(path, "operating system", g!),
            arch: parsePlatformPart(path, "architecture", h!),
          },
        };
      }
      throw notFound(path, "not a provider registry protocol endpoint");
    }
    if (segments.length === 6 && (d === SHA256SUMS || d === SHA256SUMS_SIG)) {
      const provider = parseProvider(path, host!, a!, b!);
      const coords = { ...provider, version: parseVersion(path, c!) };
      return d === SHA256SUMS
        ? { face: "registry", kind: "shasums", coords }
        : { face: "registry", kind: "shasums-sig", coords };
    }
    throw notFound(path, "not a provider registry path");
  }
  throw notFound(path, "not a provider mirror path");
}

function providerDir(root: string, c: ProviderCoords): string {
  return `${root}/${c.host}/${c.namespace}/${c.type}`;
}

/**
 * Cache keys of every object the provider mirror stores. The `providers/` half is the "packed"
 * layout of `terraform providers mirror`, so it doubles as a filesystem mirror directory.
 */
export const providerKeys = {
  /** Upstream versions document (registry face): `registry/<host>/<ns>/<type>/versions.json`. */
  versions: (c: ProviderCoords): string => `${providerDir("registry", c)}/versions.json`,
  /**
   * Upstream download document with absolute upstream URLs:
   * `registry/<host>/<ns>/<type>/<version>/download/<os>_<arch>.json`.
   */
  download: (c: PackageCoords): string =>
    `${providerDir("registry", c)}/${c.version}/download/${c.os}_${c.arch}.json`,
  /** Prefix under which every download document of a version lives. */
  downloadPrefix: (c: VersionCoords): string =>
    `${providerDir("registry", c)}/${c.version}/download/`,
  /** Checksum list: `registry/<host>/<ns>/<type>/<version>/SHA256SUMS`. */
  shasums: (c: VersionCoords): string => `${providerDir("registry", c)}/${c.version}/${SHA256SUMS}`,
  /** Its detached signature: `registry/<host>/<ns>/<type>/<version>/SHA256SUMS.sig`. */
  shasumsSig: (c: VersionCoords): string =>
    `${providerDir("registry", c)}/${c.version}/${SHA256SUMS_SIG}`,
  /** Network-mirror version index: `providers/<host>/<ns>/<type>/index.json`. */
  index: (c: ProviderCoords): string => `${providerDir("providers", c)}/index.json`,
  /** Network-mirror archive list: `providers/<host>/<ns>/<type>/<version>.json`. */
  version: (c: VersionCoords): string => `${providerDir("providers", c)}/${c.version}.json`,
  /** The package: `providers/<host>/<ns>/<type>/terraform-provider-<type>_<v>_<os>_<arch>.zip`. */
  zip: (c: PackageCoords): string => `${providerDir("providers", c)}/${packageFilename(c)}`,
} as const;

/** Encodes one URL path segment, keeping `:` (host ports) readable. */
function urlSegment(s: string): string {
  return encodeURIComponent(s).replaceAll("%3A", ":");
}

function underBase(baseUrl: URL | string, segments: readonly string[]): string {
  const base = String(baseUrl);
  const sep = base.endsWith("/") ? "" : "/";
  return base + sep + segments.map(urlSegment).join("/");
}

/**
 * Public URLs this mirror hands out, built from the cache base URL of the current request.
 */
export const providerUrls = {
  /** The package URL both faces hand out. */
  zip: (baseUrl: URL | string, c: PackageCoords): string =>
    underBase(baseUrl, ["providers", c.host, c.namespace, c.type, packageFilename(c)]),
  /** The checksum list URL handed out by the registry face. */
  shasums: (baseUrl: URL | string, c: VersionCoords): string =>
    underBase(baseUrl, ["registry", c.host, c.namespace, c.type, c.version, SHA256SUMS]),
  /** The signature URL handed out by the registry face. */
  shasumsSig: (baseUrl: URL | string, c: VersionCoords): string =>
    underBase(baseUrl, ["registry", c.host, c.namespace, c.type, c.version, SHA256SUMS_SIG]),
} as const;

/**
 * The `providers.v1` service URL the cache offers for one upstream registry host: terraform,
 * told to use it through a CLI-config `host` block, speaks the registry protocol to the cache.
 *
 * @param baseUrl Public base URL of the cache, e.g. `http://127.0.0.1:4711/s3cr3t/`.
 * @param host Registry hostname as in provider source addresses, e.g. `registry.terraform.io`.
 * @returns e.g. `http://127.0.0.1:4711/s3cr3t/registry/registry.terraform.io/providers/v1/`.
 * @example
 * ```ts
 * providerServicesUrl("http://127.0.0.1:4711/", "registry.terraform.io");
 * // "http://127.0.0.1:4711/registry/registry.terraform.io/providers/v1/"
 * ```
 */
export function providerServicesUrl(baseUrl: URL | string, host: string): string {
  return `${underBase(baseUrl, ["registry", normalizeHostname(host), "providers", "v1"])}/`;
}

/**
 * Renders a CLI-config `host` block that points terraform's provider registry client for `host`
 * at this cache. A `host` block replaces the host's whole discovery document, so pass the other
 * services the host should keep (e.g. `"modules.v1"`) in `otherServices`.
 *
 * @param baseUrl Public base URL of the cache.
 * @param host Registry hostname, e.g. `registry.terraform.io`.
 * @param otherServices Further service IDs and URLs to list in the block.
 * @returns The HCL text of the block, ending with a newline.
 * @example
 * ```ts
 * providerRegistryHostBlock("http://127.0.0.1:4711/", "registry.terraform.io");
 * // host "registry.terraform.io" {
 * //   services = {
 * //     "providers.v1" = "http://127.0.0.1:4711/registry/registry.terraform.io/providers/v1/"
 * //   }
 * // }
 * ```
 */
export function providerRegistryHostBlock(
  baseUrl: URL | string,
  host: string,
  otherServices: Readonly<Record<string, string>> = {},
): string {
  const services: Record<string, string> = {
    "providers.v1": providerServicesUrl(baseUrl, host),
    ...otherServices,
  };
  const lines = Object.entries(services).map(([id, url]) =>
    `    ${JSON.stringify(id)} = ${JSON.stringify(url)}`
  );
  return `host ${JSON.stringify(normalizeHostname(host))} {\n  services = {\n${
    lines.join("\n")
  }\n  }\n}\n`;
}

/**
 * Scans a provider directory laid out as a filesystem mirror or cache
 * (reference-providercache §1.2): unpacked packages at `HOST/NS/TYPE/VERSION/OS_ARCH/` and packed
 * ones at `HOST/NS/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip`. Anything else (other
 * depths, invalid names, `.lock` files, temporary directories) is ignored; the walk never
 * follows symlinks below the base directory, but a symlinked platform directory counts.
 *
 * @module
 */

import { join } from "node:path";
import { comparePlatforms, parsePlatform, type Platform } from "../registry/platform.ts";
import {
  DEFAULT_REGISTRY_HOST,
  LEGACY_NAMESPACE,
  normalizeHostname,
  parseProviderPart,
  type ProviderAddress,
  providerAddressString,
} from "../registry/provider_address.ts";
import { compareVersions, parseVersion, type Version } from "../registry/version.ts";
import type { PackageLocalArchive, PackageLocalDir } from "./package_meta.ts";
import { packageFilename } from "./package_meta.ts";

/** One package found by {@linkcode searchLocalDirectory}. */
export interface LocalPackage {
  /** The provider. */
  readonly provider: ProviderAddress;
  /** The version. */
  readonly version: Version;
  /** The platform. */
  readonly targetPlatform: Platform;
  /** File name (synthetic for unpacked packages, lower-cased for packed ones). */
  readonly filename: string;
  /** The zip or the directory. */
  readonly location: PackageLocalArchive | PackageLocalDir;
}

/** Options for {@linkcode searchLocalDirectory}. */
export interface SearchLocalDirectoryOptions {
  /** The host on which the legacy namespace `-` is valid (default `registry.terraform.io`). */
  defaultRegistryHost?: string;
  /** Receives warnings about ignored entries (default: dropped). */
  warn?: (message: string) => void;
}

/** The base directory could not be walked. */
export class SearchDirectoryError extends Error {
  /** The path that failed. */
  readonly path: string;

  /**
   * @param path The path that failed.
   * @param cause The file-system error.
   */
  constructor(path: string, cause: unknown) {
    super(`cannot search ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = "SearchDirectoryError";
    this.path = path;
  }
}

/**
 * Scans `baseDir` for provider packages.
 *
 * @param baseDir The directory (a symlink is resolved first).
 * @param options Default host and a warning sink.
 * @returns Provider address string → packages, each list sorted by platform then version.
 * @throws {SearchDirectoryError} when the directory (or a subdirectory) cannot be read.
 */
export async function searchLocalDirectory(
  baseDir: string,
  options: SearchLocalDirectoryOptions = {},
): Promise<Map<string, LocalPackage[]>> {
  const warn = options.warn ?? (() => {});
  const defaultHost = options.defaultRegistryHost ?? DEFAULT_REGISTRY_HOST;
  let base = baseDir;
  try {
    base = await Deno.realPath(baseDir);
  } catch {
    // terraform only logs this and walks the original path.
  }
  const out = new Map<string, LocalPackage[]>();
  await _walk(base, [], out, warn, defaultHost);
  for (const list of out.values()) {
    list.sort((a, b) =>
      comparePlatforms(a.targetPlatform, b.targetPlatform) || compareVersions(a.version, b.version)
    );
  }
  return out;
}

async function _walk(
  abs: string,
  parts: string[],
  out: Map<string, LocalPackage[]>,
  warn: (m: string) => void,
  defaultHost: string,
): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(abs));
  } catch (cause) {
    throw new SearchDirectoryError(abs, cause);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = join(abs, entry.name);
    const rel = [...parts, entry.name];
    if (rel.length < 3) {
      if (entry.isSymlink) {
        warn(
          `ignoring symlink ${full}: only the base directory of a provider tree may be a symlink`,
        );
        continue;
      }
      // Hidden top-level directories (.locks, .provenance, ...) can never hold packages.
      if (entry.isDirectory && !(rel.length === 1 && entry.name.startsWith("."))) {
        await _walk(full, rel, out, warn, defaultHost);
      }
      continue;
    }
    _consider(full, rel, entry, out, warn, defaultHost, await _statOrUndefined(full));
    // Nothing deeper than HOST/NS/TYPE/VERSION/PLATFORM is ever a package: don't descend further.
    if (entry.isDirectory && !entry.isSymlink && rel.length < 5) {
      await _walk(full, rel, out, warn, defaultHost);
    }
  }
}

async function _statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch {
    return undefined;
  }
}

function _consider(
  full: string,
  rel: string[],
  _entry: Deno.DirEntry,
  out: Map<string, LocalPackage[]>,
  warn: (m: string) => void,
  defaultHost: string,
  info: Deno.FileInfo | undefined,
): void {
  if (rel.length !== 4 && rel.length !== 5) return;
  const [hostRaw, nsRaw, typeRaw] = rel as [string, string, string];
  let provider: ProviderAddress;
  try {
    const hostname = normalizeHostname(hostRaw);
    const type = parseProviderPart(typeRaw);
    if (nsRaw === LEGACY_NAMESPACE) {
      if (hostname !== defaultHost) {
        warn(`ignoring ${full}: the legacy namespace "-" is valid only on ${defaultHost}`);
        return;
      }
      provider = { hostname, namespace: LEGACY_NAMESPACE, type };
    } else {
      provider = { hostname, namespace: parseProviderPart(nsRaw), type };
    }
  } catch (err) {
    warn(`ignoring ${full}: invalid provider address: ${(err as Error).message}`);
    return;
  }
  if (info === undefined) {
    warn(`ignoring ${full}: cannot stat it`);
    return;
  }
  const key = providerAddressString(provider);
  const push = (p: LocalPackage) => {
    const list = out.get(key);
    if (list === undefined) out.set(key, [p]);
    else list.push(p);
  };
  if (rel.length === 5) {
    if (!info.isDirectory) return;
    let version: Version;
    let platform: Platform;
    try {
      version = parseVersion(rel[3]!);
      platform = parsePlatform(rel[4]!);
    } catch (err) {
      warn(`ignoring ${full}: ${(err as Error).message}`);
      return;
    }
    push({
      provider,
      version,
      targetPlatform: platform,
      filename: packageFilename(provider.type, version, platform),
      location: { kind: "dir", path: full },
    });
    return;
  }
  if (info.isDirectory) return; // a version directory, handled at depth 5
  const name = rel[3]!.toLowerCase();
  const prefix = `terraform-provider-${provider.type}_`;
  if (!name.startsWith(prefix) || !name.endsWith(".zip")) {
    warn(`ignoring ${full}: not a provider package file name`);
    return;
  }
  const fields = name.slice(prefix.length, name.length - 4).split("_");
  if (fields.length < 3) {
    warn(`ignoring ${full}: file name must be terraform-provider-TYPE_VERSION_OS_ARCH.zip`);
    return;
  }
  let version: Version;
  let platform: Platform;
  try {
    version = parseVersion(fields[0]!);
    platform = parsePlatform(`${fields[1]}_${fields[2]}`);
  } catch (err) {
    warn(`ignoring ${full}: ${(err as Error).message}`);
    return;
  }
  push({
    provider,
    version,
    targetPlatform: platform,
    filename: name,
    location: { kind: "archive", path: full },
  });
}

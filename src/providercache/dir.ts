/**
 * `Dir`: one provider cache directory (a configuration's `.terraform/providers` or the global
 * `plugin_cache_dir`), holding unpacked packages for one target platform at
 * `BASE/HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/` (reference-providercache §1).
 *
 * Every install takes a cross-process lock per package
 * (`BASE/.locks/HOST/NS/TYPE/VERSION_OS_ARCH.lock`), re-checks the entry under it, and publishes
 * the package atomically (see `package_install.ts`), so concurrent processes sharing a global
 * cache never see a partial package and never download the same one twice. Next to the lock, a
 * provenance record (`….json`: the `zh:` of the archive a package was unpacked from and the
 * `h1:` it produced) lets a later install reuse the entry without downloading when its source
 * announces the same archive checksum (a registry's signed `shasum`, a mirror's hashes).
 *
 * @module
 */

import { join } from "node:path";
import type { FetchLike } from "../registry/fetch_like.ts";
import {
  currentPlatform,
  type Platform,
  platformEquals,
  platformString,
} from "../registry/platform.ts";
import {
  hostnameForDisplay,
  type ProviderAddress,
  providerAddressString,
} from "../registry/provider_address.ts";
import { compareVersions, type Version, versionString } from "../registry/version.ts";
import { acquireDirLock } from "./_dir_lock.ts";
import { CachedProvider } from "./cached_provider.ts";
import { PackageHashMismatchError, ProviderInstallError } from "./errors.ts";
import {
  type ArchiveInstallResult,
  installFromArchive,
  installFromDirectory,
  installFromUrl,
  removeAny,
  sweepTemporaries,
} from "./package_install.ts";
import type {
  PackageAuthentication,
  PackageAuthResult,
  PackageLocation,
  PackageMeta,
} from "./package_meta.ts";
import { locationString } from "./package_meta.ts";
import { searchLocalDirectory } from "./search_local_directory.ts";
import type { ExtractLimits } from "./zip_extract.ts";

/** Options for {@linkcode Dir}. */
export interface DirOptions {
  /** Target platform (default: this machine's). */
  platform?: Platform;
  /** Host on which the legacy namespace `-` is valid (default `registry.terraform.io`). */
  defaultRegistryHost?: string;
  /** Extraction bounds for archives installed here. */
  limits?: ExtractLimits;
  /** How {@linkcode Dir.linkFromOtherCache} and directory installs place packages (default `auto`). */
  linkMode?: "auto" | "copy" | "symlink";
}

/** Options for {@linkcode Dir.installPackage}. */
export interface InstallPackageOptions {
  /** Aborts the install (including the wait for the lock). */
  signal?: AbortSignal | undefined;
  /**
   * With no allowed hashes, accept an existing entry that has an executable without any check
   * (terraform's `plugin_cache_may_break_dependency_lock_file`).
   */
  allowSkippingInstallWithoutHashes?: boolean | undefined;
  /** Called once when the package lock is still held by someone else after 5 s. */
  onLockContended?: (() => void) | undefined;
  /** Fetch for http locations that carry none (default: global `fetch`). */
  fetch?: FetchLike | undefined;
  /** Download retries (default 2). */
  retries?: number | undefined;
}

interface _Provenance {
  zh: string;
  h1: string;
  source: string;
}

/** A provider cache directory for one target platform. */
export class Dir {
  readonly #base: string;
  readonly #platform: Platform;
  readonly #defaultHost: string | undefined;
  readonly #limits: ExtractLimits | undefined;
  readonly #linkMode: "auto" | "copy" | "symlink";

  /**
   * @param basePath The cache directory (need not exist yet).
   * @param options Platform, default host, extraction limits, link mode.
   */
  constructor(basePath: string, options: DirOptions = {}) {
    this.#base = basePath.replace(/[\\/]+$/, "") || basePath;
    this.#platform = options.platform ?? currentPlatform();
    this.#defaultHost = options.defaultRegistryHost;
    this.#limits = options.limits;
    this.#linkMode = options.linkMode ?? "auto";
  }

  /** The base directory. */
  get basePath(): string {
    return this.#base;
  }

  /** The target platform of this directory. */
  get platform(): Platform {
    return this.#platform;
  }

  /**
   * @param provider The provider.
   * @param version The version.
   * @returns `BASE/HOST/NS/TYPE/VERSION/OS_ARCH` (host in display form).
   */
  unpackedPath(provider: ProviderAddress, version: Version): string {
    return join(
      this.#base,
      hostnameForDisplay(provider.hostname),
      provider.namespace,
      provider.type,
      versionString(version),
      platformString(this.#platform),
    );
  }

  /**
   * @param provider The provider.
   * @param version The version.
   * @returns The lock file guarding that package: `BASE/.locks/HOST/NS/TYPE/VERSION_OS_ARCH.lock`.
   */
  lockPath(provider: ProviderAddress, version: Version): string {
    return this.#metaPath(provider, version, ".lock");
  }

  #metaPath(provider: ProviderAddress, version: Version, ext: string): string {
    return join(
      this.#base,
      ".locks",
      hostnameForDisplay(provider.hostname),
      provider.namespace,
      provider.type,
      `${versionString(version)}_${platformString(this.#platform)}${ext}`,
    );
  }

  /**
   * The cached package of one exact version (build metadata included), without scanning.
   *
   * @param provider The provider.
   * @param version The version.
   * @returns The entry, or `undefined` when there is no such directory.
   */
  async providerVersion(
    provider: ProviderAddress,
    version: Version,
  ): Promise<CachedProvider | undefined> {
    const path = this.unpackedPath(provider, version);
    try {
      if (!(await Deno.stat(path)).isDirectory) return undefined;
    } catch {
      return undefined;
    }
    return new CachedProvider(provider, version, path);
  }

  /**
   * Every unpacked package for this directory's platform (packed zips and other platforms are
   * ignored), grouped by provider and sorted newest first.
   *
   * @returns Provider address string → entries; empty when the directory is missing or unreadable.
   */
  async allAvailablePackages(): Promise<Map<string, CachedProvider[]>> {
    const out = new Map<string, CachedProvider[]>();
    let found;
    try {
      found = await searchLocalDirectory(
        this.#base,
        this.#defaultHost === undefined ? {} : { defaultRegistryHost: this.#defaultHost },
      );
    } catch {
      return out;
    }
    for (const [key, list] of found) {
      const entries = list
        .filter((p) =>
          p.location.kind === "dir" && platformEquals(p.targetPlatform, this.#platform)
        )
        .map((p) => new CachedProvider(p.provider, p.version, p.location.path))
        .sort((a, b) => compareVersions(b.version, a.version));
      if (entries.length > 0) out.set(key, entries);
    }
    return out;
  }

  /**
   * @param provider The provider.
   * @returns The newest cached version, or `undefined`.
   */
  async providerLatestVersion(provider: ProviderAddress): Promise<CachedProvider | undefined> {
    return (await this.allAvailablePackages()).get(providerAddressString(provider))?.[0];
  }

  /**
   * Obtains the package `meta` describes and installs it here (§1.5), under the package's lock:
   * an existing entry that matches `allowedHashes` (or, via its provenance, the archive checksum
   * the source announces) is reused without downloading; otherwise the package is fetched,
   * authenticated, checked against `allowedHashes` and published atomically.
   *
   * @param meta The package.
   * @param allowedHashes Hashes from the lock file (empty: no constraint).
   * @param options Signal, skip policy, lock contention callback, fetch.
   * @returns The authentication result, or `undefined` when nothing authenticated the package.
   * @throws {ProviderInstallError} for a platform mismatch or a failed install step.
   * @throws {PackageHashMismatchError} when the package does not match `allowedHashes`.
   */
  async installPackage(
    meta: PackageMeta,
    allowedHashes: readonly string[],
    options: InstallPackageOptions = {},
  ): Promise<PackageAuthResult | undefined> {
    if (!platformEquals(meta.targetPlatform, this.#platform)) {
      throw new ProviderInstallError(
        `can't install ${
          platformString(meta.targetPlatform)
        } package into cache directory expecting ${platformString(this.#platform)}`,
      );
    }
    await using _lock = await acquireDirLock(this.lockPath(meta.provider, meta.version), {
      signal: options.signal,
      onContended: options.onLockContended,
    });
    return await this.#installLocked(meta, allowedHashes, options);
  }

  async #installLocked(
    meta: PackageMeta,
    allowedHashes: readonly string[],
    options: InstallPackageOptions,
  ): Promise<PackageAuthResult | undefined> {
    const target = this.unpackedPath(meta.provider, meta.version);
    await sweepTemporaries(target);
    const existing = await this.providerVersion(meta.provider, meta.version);
    const auth = meta.authentication;
    if (existing !== undefined) {
      if (allowedHashes.length === 0 && options.allowSkippingInstallWithoutHashes) {
        const ok = await existing.executableFile().then(() => true, () => false);
        if (ok) return undefined;
      }
      const h1 = await existing.hashV1().catch(() => undefined);
      if (h1 !== undefined) {
        const matched = allowedHashes.filter((h) => h === h1);
        if (matched.length > 0) {
          return { ..._authFromMeta(meta, matched), verifiedHashes: matched };
        }
        const reuse = await this.#provenanceReuse(meta, allowedHashes, h1);
        if (reuse !== undefined) return reuse;
      }
    }
    const identity = {
      provider: meta.provider,
      version: meta.version,
      allowedHashes,
      signal: options.signal,
      limits: this.#limits,
    };
    const expectedSha256 = auth?.kind === "signed-checksums" ? auth.archiveSha256 : undefined;
    const reportedHashes = auth?.kind === "reported-hashes" ? auth.hashes : undefined;
    const loc = meta.location;
    let result: ArchiveInstallResult;
    switch (loc.kind) {
      case "http":
        result = await installFromUrl(loc.url, target, {
          ...identity,
          expectedSha256,
          reportedHashes,
          fetch: loc.fetch ?? options.fetch,
          retries: options.retries,
        });
        break;
      case "archive":
        result = await installFromArchive(loc.path, target, {
          ...identity,
          expectedSha256,
          reportedHashes,
        });
        break;
      case "dir":
        await installFromDirectory(loc.path, target, { ...identity, linkMode: this.#linkMode });
        return auth === undefined ? undefined : _authFromMeta(meta, []);
    }
    await this.#writeProvenance(meta, {
      zh: result.zh,
      h1: result.h1,
      source: locationString(loc),
    });
    const verified = [result.zh, ...result.matched];
    if (reportedHashes !== undefined) {
      verified.push(...reportedHashes.filter((h) => h === result.h1 || h === result.zh));
    }
    return auth === undefined
      ? undefined
      : { ..._authFromMeta(meta, []), verifiedHashes: verified };
  }

  async #provenanceReuse(
    meta: PackageMeta,
    allowedHashes: readonly string[],
    h1: string,
  ): Promise<PackageAuthResult | undefined> {
    const auth = meta.authentication;
    if (auth === undefined) return undefined;
    let prov: _Provenance;
    try {
      prov = JSON.parse(
        await Deno.readTextFile(this.#metaPath(meta.provider, meta.version, ".json")),
      );
    } catch {
      return undefined;
    }
    if (typeof prov.zh !== "string" || prov.h1 !== h1) return undefined;
    const announced = auth.kind === "signed-checksums"
      ? [`zh:${auth.archiveSha256.toLowerCase()}`]
      : auth.hashes.filter((h) => h.startsWith("zh:"));
    if (
      !announced.includes(prov.zh) && !(auth.kind === "reported-hashes" && auth.hashes.includes(h1))
    ) {
      return undefined;
    }
    if (allowedHashes.length > 0 && !allowedHashes.includes(prov.zh)) return undefined;
    return { ..._authFromMeta(meta, []), verifiedHashes: [prov.zh] };
  }

  async #writeProvenance(meta: PackageMeta, prov: _Provenance): Promise<void> {
    const path = this.#metaPath(meta.provider, meta.version, ".json");
    const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    try {
      await Deno.writeTextFile(tmp, JSON.stringify(prov) + "\n", { mode: 0o644 });
      await Deno.rename(tmp, path);
    } catch {
      await removeAny(tmp);
      // Provenance is an optimisation only.
    }
  }

  /**
   * Links an entry of another cache directory into this one (§1.9): after checking it against
   * `allowedHashes` (when any), places an absolute symlink to it, or a copy where links are
   * impossible.
   *
   * @param entry The entry in the other directory.
   * @param allowedHashes Lock-file hashes (empty: no check).
   * @param options Abort signal.
   * @throws {PackageHashMismatchError} when the entry matches none of `allowedHashes`.
   * @throws {ProviderInstallError} when linking and copying both fail, or the entry is this
   *   directory's own.
   */
  async linkFromOtherCache(
    entry: CachedProvider,
    allowedHashes: readonly string[] = [],
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<void> {
    if (allowedHashes.length > 0) {
      let ok: boolean;
      try {
        ok = await entry.matchesAnyHash(allowedHashes);
      } catch (cause) {
        throw new ProviderInstallError(
          `failed to calculate checksum for cached copy of ${
            providerAddressString(entry.provider)
          } ${versionString(entry.version)} in ${this.#base}: ${(cause as Error).message}`,
          { cause },
        );
      }
      if (!ok) {
        throw new PackageHashMismatchError(
          entry.provider,
          versionString(entry.version),
          allowedHashes,
          "cached package",
          `the provider cache at ${this.#base} has a copy of ${
            providerAddressString(entry.provider)
          } ${
            versionString(entry.version)
          } that doesn't match any of the checksums recorded in the dependency lock file`,
        );
      }
    }
    await using _lock = await acquireDirLock(this.lockPath(entry.provider, entry.version), {
      signal: options.signal,
    });
    const target = this.unpackedPath(entry.provider, entry.version);
    await sweepTemporaries(target);
    await installFromDirectory(entry.packageDir, target, {
      provider: entry.provider,
      version: entry.version,
      linkMode: this.#linkMode,
    });
  }

  /**
   * Installs a local zip under the package lock (see {@linkcode installFromArchive}).
   *
   * @param provider The provider.
   * @param version The version.
   * @param zipPath The zip.
   * @param allowedHashes Lock-file hashes (empty: no check).
   * @param options Signal.
   * @returns The entry.
   */
  async installFromArchive(
    provider: ProviderAddress,
    version: Version,
    zipPath: string,
    allowedHashes: readonly string[] = [],
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<CachedProvider> {
    return await this.#installLocation(
      provider,
      version,
      { kind: "archive", path: zipPath },
      undefined,
      allowedHashes,
      options,
    );
  }

  /**
   * Installs an unpacked directory under the package lock (symlink, or copy as a fallback).
   *
   * @param provider The provider.
   * @param version The version.
   * @param sourceDir The unpacked package.
   * @param allowedHashes Lock-file hashes (empty: no check; all-`zh:`: not checkable, skipped).
   * @param options Signal.
   * @returns The entry.
   */
  async installFromDirectory(
    provider: ProviderAddress,
    version: Version,
    sourceDir: string,
    allowedHashes: readonly string[] = [],
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<CachedProvider> {
    return await this.#installLocation(
      provider,
      version,
      { kind: "dir", path: sourceDir },
      undefined,
      allowedHashes,
      options,
    );
  }

  /**
   * Downloads and installs a zip under the package lock.
   *
   * @param provider The provider.
   * @param version The version.
   * @param url The zip's URL.
   * @param allowedHashes Lock-file hashes (empty: no check).
   * @param options Fetch (e.g. the tfcache cache's), expected SHA-256, signal.
   * @returns The entry.
   */
  async installFromUrl(
    provider: ProviderAddress,
    version: Version,
    url: string,
    allowedHashes: readonly string[] = [],
    options: {
      fetch?: FetchLike | undefined;
      signal?: AbortSignal | undefined;
      expectedHashes?: readonly string[] | undefined;
    } = {},
  ): Promise<CachedProvider> {
    return await this.#installLocation(
      provider,
      version,
      { kind: "http", url, fetch: options.fetch },
      options.expectedHashes === undefined
        ? undefined
        : { kind: "reported-hashes", hashes: options.expectedHashes },
      allowedHashes,
      options,
    );
  }

  /** Installs the package at `location` for this directory's platform and returns its entry. */
  async #installLocation(
    provider: ProviderAddress,
    version: Version,
    location: PackageLocation,
    authentication: PackageAuthentication | undefined,
    allowedHashes: readonly string[],
    options: { signal?: AbortSignal | undefined },
  ): Promise<CachedProvider> {
    await this.installPackage(
      {
        provider,
        version,
        protocolVersions: [],
        targetPlatform: this.#platform,
        filename: locationString(location),
        location,
        ...(authentication === undefined ? {} : { authentication }),
      },
      allowedHashes,
      options,
    );
    return new CachedProvider(provider, version, this.unpackedPath(provider, version));
  }
}

function _authFromMeta(meta: PackageMeta, verified: readonly string[]): PackageAuthResult {
  const auth = meta.authentication;
  if (auth?.kind === "signed-checksums") {
    return {
      label: auth.signature.label,
      signed: true,
      keyId: auth.signature.keyId,
      signedHashes: auth.documentHashes,
      verifiedHashes: verified,
    };
  }
  return {
    label: "verified checksum",
    signed: false,
    keyId: undefined,
    signedHashes: [],
    verifiedHashes: verified,
  };
}

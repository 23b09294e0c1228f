/**
 * `Installer.ensureProviderVersions`: makes the providers a configuration requires available in
 * its `.terraform/providers` directory and returns the new dependency locks
 * (reference-providercache §3.3, OpenTofu's two-phase structure with terraform's lock contents):
 *
 * 1. per requirement: built-in and unmanaged providers are handled without installing; a locked
 *    version outside the constraints is an error (unless upgrading); otherwise the lock pins it;
 * 2. versions are selected concurrently (the source is not asked when a locked version is in the
 *    global cache);
 * 3. packages are installed concurrently: an entry of the target that matches the lock's hashes is
 *    kept; otherwise the package goes into the global cache (when configured, under a
 *    cross-process lock) and is linked into the target, or straight into the target;
 * 4. lock entries: the local `h1:` + the prior hashes (same version) + every `zh:` of a signed
 *    SHA256SUMS, as terraform writes them; constraints are replaced by the current requirements;
 *    providers no longer required are pruned; failed providers keep their old entries.
 *
 * Failures are collected per provider into an {@linkcode InstallerError}, which also carries the
 * partially-updated locks. The `signal` aborts both phases and every network call.
 *
 * @module
 */

import type { FetchLike } from "../registry/fetch_like.ts";
import { preferredHashes } from "../registry/hashes.ts";
import {
  isBuiltIn,
  type ProviderAddress,
  providerAddressString,
} from "../registry/provider_address.ts";
import {
  compareVersions,
  isUnspecifiedVersion,
  type Version,
  versionEquals,
  versionString,
} from "../registry/version.ts";
import {
  constraintsString,
  meetsConstraints,
  type VersionConstraints,
} from "../registry/version_constraints.ts";
import { LockFile, providerIsLockable } from "../lock/lock_file.ts";
import type { CachedProvider } from "./cached_provider.ts";
import type { Dir } from "./dir.ts";
import { InstallerError, type ProviderFailure, ProviderInstallError } from "./errors.ts";
import type { InstallerEvents, PendingProvider } from "./installer_events.ts";
import type { PackageAuthResult } from "./package_meta.ts";
import { installedPackageHash } from "./package_install.ts";
import type { ProviderSource } from "./sources/source.ts";

/**
 * How existing installs are treated: `new-only` keeps locked versions and verifies hashes,
 * `force` is the same but installs even when the package does not match the lock's hashes,
 * `upgrade` ignores locked versions and selects the newest matching version.
 */
export type InstallMode = "new-only" | "force" | "upgrade";

/** Provider requirements: each provider with its merged constraints (empty: any version). */
export type Requirements = Iterable<readonly [ProviderAddress, VersionConstraints]>;

/** Options for {@linkcode Installer}. */
export interface InstallerOptions {
  /** The configuration's provider directory (`.terraform/providers`). */
  targetDir: Dir;
  /** Where providers come from. */
  source: ProviderSource;
  /** A shared cache (`plugin_cache_dir`); must not be the target or one of the sources. */
  globalCacheDir?: Dir | undefined;
  /** terraform's `plugin_cache_may_break_dependency_lock_file`. */
  globalCacheMayBreakLockFile?: boolean | undefined;
  /** Types valid under `terraform.io/builtin/` (the CLI passes `["terraform"]`). */
  builtInProviderTypes?: readonly string[] | undefined;
  /** Providers run externally (reattached); never installed or locked. */
  unmanagedProviders?: Iterable<ProviderAddress> | undefined;
  /** Product name in messages (default `Terraform`). */
  productName?: string | undefined;
  /** Command in messages (default `terraform`). */
  commandName?: string | undefined;
  /** Fetch for downloads whose location carries none. */
  fetch?: FetchLike | undefined;
  /** Download retries (default 2). */
  retries?: number | undefined;
}

/** Options for {@linkcode Installer.ensureProviderVersions}. */
export interface EnsureOptions {
  /** Aborts the operation. */
  signal?: AbortSignal | undefined;
  /** Progress callbacks. */
  events?: InstallerEvents | undefined;
}

interface _Need {
  provider: ProviderAddress;
  constraints: VersionConstraints;
  version: Version;
}

interface _Candidate {
  provider: ProviderAddress;
  constraints: VersionConstraints;
  locked: Version | undefined;
}

/** Installs providers into a configuration's provider directory. */
export class Installer {
  readonly #opts: InstallerOptions;
  readonly #builtIn: ReadonlySet<string>;
  readonly #unmanaged: ReadonlySet<string>;

  /**
   * @param options Target directory, source, global cache and policies.
   * @throws {TypeError} when the global cache is the target directory.
   */
  constructor(options: InstallerOptions) {
    if (options.globalCacheDir !== undefined) {
      const a = options.globalCacheDir.basePath;
      const b = options.targetDir.basePath;
      if (a === b) {
        throw new TypeError(
          `global cache directory ${a} must not match the installation target directory ${b}`,
        );
      }
    }
    this.#opts = { ...options };
    this.#builtIn = new Set(options.builtInProviderTypes ?? []);
    this.#unmanaged = new Set([...(options.unmanagedProviders ?? [])].map(providerAddressString));
  }

  /**
   * @param targetDir Another target directory.
   * @returns An installer with the same source, global cache and policies.
   */
  clone(targetDir: Dir): Installer {
    return new Installer({ ...this.#opts, targetDir });
  }

  /** Whether a global cache directory is configured. */
  get hasGlobalCacheDir(): boolean {
    return this.#opts.globalCacheDir !== undefined;
  }

  /** The source new providers are installed from. */
  get source(): ProviderSource {
    return this.#opts.source;
  }

  /**
   * Ensures every required provider is installed in the target directory.
   *
   * @param locks The current dependency locks (not modified).
   * @param requirements Providers and their merged constraints.
   * @param mode `new-only`, `force` or `upgrade`.
   * @param options Abort signal and progress callbacks.
   * @returns The new locks.
   * @throws {InstallerError} when some providers failed (`error.locks` has the partial locks).
   * @throws The signal's reason when aborted between phases.
   */
  async ensureProviderVersions(
    locks: LockFile,
    requirements: Requirements,
    mode: InstallMode,
    options: EnsureOptions = {},
  ): Promise<LockFile> {
    const evts: InstallerEvents = options.events ?? {};
    const signal = options.signal;
    const product = this.#opts.productName ?? "Terraform";
    const command = this.#opts.commandName ?? "terraform";
    const newLocks = locks.clone();
    const errs = new Map<string, ProviderFailure>();
    const fail = (provider: ProviderAddress, error: unknown) => {
      const e = error instanceof Error ? error : new Error(String(error));
      errs.set(providerAddressString(provider), { provider, error: e });
    };

    const reqs = new Map<string, PendingProvider>();
    for (const [provider, constraints] of requirements) {
      const key = providerAddressString(provider);
      const prev = reqs.get(key);
      reqs.set(key, {
        provider,
        constraints: prev === undefined ? constraints : [...prev.constraints, ...constraints],
      });
    }
    evts.pendingProviders?.([...reqs.values()]);

    // 1. Might-need.
    const candidates: _Candidate[] = [];
    for (const { provider, constraints } of reqs.values()) {
      if (isBuiltIn(provider)) {
        let err: Error | undefined;
        if (!this.#builtIn.has(provider.type)) {
          err = new ProviderInstallError(
            `this ${product} release has no built-in provider named "${provider.type}"`,
          );
        } else if (constraints.length > 0) {
          err = new ProviderInstallError(
            "built-in providers do not support explicit version constraints",
          );
        }
        if (err === undefined) {
          evts.builtInProviderAvailable?.(provider);
        } else {
          fail(provider, err);
          evts.builtInProviderFailure?.(provider, err);
        }
        continue;
      }
      if (this.#unmanaged.has(providerAddressString(provider))) continue;
      const lock = newLocks.provider(provider);
      if (mode !== "upgrade" && lock !== undefined) {
        if (!meetsConstraints(lock.version, constraints)) {
          const err = new ProviderInstallError(
            `locked provider ${providerAddressString(provider)} ${
              versionString(lock.version)
            } does not match configured version constraint ${
              constraintsString(constraints)
            }; must use ${command} init -upgrade to allow selection of new versions`,
          );
          fail(provider, err);
          evts.queryPackagesBegin?.(provider, constraints, true);
          evts.queryPackagesFailure?.(provider, err);
          continue;
        }
        candidates.push({ provider, constraints, locked: lock.version });
      } else {
        candidates.push({ provider, constraints, locked: undefined });
      }
    }

    // 2. Need: select versions.
    signal?.throwIfAborted();
    const global = this.#opts.globalCacheDir;
    const needs: _Need[] = [];
    await Promise.all(candidates.map(async (c) => {
      const { provider, constraints, locked } = c;
      evts.queryPackagesBegin?.(provider, constraints, locked !== undefined);
      try {
        if (
          (locked !== undefined && isUnspecifiedVersion(locked)) ||
          (locked === undefined && _onlyUnspecified(constraints))
        ) {
          throw new ProviderInstallError(
            "0.0.0 is not a valid provider version. \nIf the version 0.0.0 is intended to represent a non-published provider, consider using dev_overrides - https://developer.hashicorp.com/terraform/cli/config/config-file#development-overrides-for-provider-developers",
          );
        }
        if (locked !== undefined && global !== undefined) {
          if (await global.providerVersion(provider, locked) !== undefined) {
            evts.queryPackagesSuccess?.(provider, locked);
            needs.push({ provider, constraints, version: locked });
            return;
          }
        }
        const available = await this.#opts.source.availableVersions(provider, { signal });
        if (available.warnings.length > 0) {
          evts.queryPackagesWarning?.(provider, available.warnings);
        }
        const sorted = [...available.versions].sort(compareVersions);
        let selected: Version | undefined;
        for (let i = sorted.length - 1; i >= 0; i--) {
          const v = sorted[i]!;
          const ok = locked !== undefined
            ? versionEquals(v, locked)
            : meetsConstraints(v, constraints);
          if (ok) {
            selected = v;
            break;
          }
        }
        if (selected === undefined) {
          throw new ProviderInstallError(
            locked !== undefined
              ? `the previously-selected version ${versionString(locked)} is no longer available`
              : `no available releases match the given constraints ${
                constraintsString(constraints)
              }`,
          );
        }
        evts.queryPackagesSuccess?.(provider, selected);
        needs.push({ provider, constraints, version: selected });
      } catch (err) {
        fail(provider, err);
        evts.queryPackagesFailure?.(provider, err instanceof Error ? err : new Error(String(err)));
      }
    }));

    // 3. Install.
    signal?.throwIfAborted();
    const authResults = new Map<string, PackageAuthResult>();
    await Promise.all(needs.map(async (need) => {
      try {
        const out = await this.#installOne(need, newLocks, mode, evts, signal);
        if (out.auth !== undefined) authResults.set(providerAddressString(need.provider), out.auth);
        if (out.hashes.length > 0 && providerIsLockable(need.provider)) {
          newLocks.setProvider(need.provider, need.version, need.constraints, out.hashes);
        }
      } catch (err) {
        fail(need.provider, err);
      }
    }));

    // 4.
    if (authResults.size > 0) evts.providersFetched?.(authResults);

    // 5. Prune.
    for (const lock of newLocks.allProviders()) {
      if (!reqs.has(providerAddressString(lock.address))) newLocks.removeProvider(lock.address);
    }

    if (errs.size > 0) throw new InstallerError([...errs.values()], newLocks);
    return newLocks;
  }

  async #installOne(
    need: _Need,
    locks: LockFile,
    mode: InstallMode,
    evts: InstallerEvents,
    signal: AbortSignal | undefined,
  ): Promise<{ auth: PackageAuthResult | undefined; hashes: readonly string[] }> {
    const { provider, version } = need;
    const lock = locks.provider(provider);
    const sameVersion = lock !== undefined && versionEquals(lock.version, version);
    const preferred = sameVersion ? preferredHashes(lock.hashes) : [];
    const target = this.#opts.targetDir;

    // 3b. The target already has a package matching the lock.
    if (preferred.length > 0) {
      const existing = await target.providerVersion(provider, version);
      if (existing !== undefined && await existing.matchesAnyHash(preferred).catch(() => false)) {
        evts.providerAlreadyInstalled?.(provider, version, false);
        return { auth: undefined, hashes: lock!.hashes };
      }
    }

    // 3c/3d.
    const global = this.#opts.globalCacheDir;
    const installTo = global ?? target;
    const isGlobal = global !== undefined;
    const inDir = await this.#ensureInDirectory(
      installTo,
      isGlobal,
      need,
      preferred,
      sameVersion ? lock.hashes : [],
      mode,
      evts,
      signal,
    );
    if (global === undefined) return inDir;

    // 3e. Link from the global cache into the target.
    evts.linkFromCacheBegin?.(provider, version, global.basePath);
    try {
      const entry = await global.providerVersion(provider, version);
      if (entry === undefined) {
        throw new ProviderInstallError(
          `after installing ${
            providerAddressString(provider)
          } it is still not detected in ${global.basePath}; this is a bug in tfcache`,
        );
      }
      await target.linkFromOtherCache(entry, [], { signal });
      const linked = await this.#verifyInstalled(target, provider, version);
      evts.linkFromCacheSuccess?.(provider, version, linked.packageDir);
    } catch (err) {
      evts.linkFromCacheFailure?.(provider, version, err as Error);
      throw err;
    }
    return inDir;
  }

  async #ensureInDirectory(
    dir: Dir,
    isGlobal: boolean,
    need: _Need,
    preferred: readonly string[],
    prior: readonly string[],
    mode: InstallMode,
    evts: InstallerEvents,
    signal: AbortSignal | undefined,
  ): Promise<{ auth: PackageAuthResult | undefined; hashes: readonly string[] }> {
    const { provider, version } = need;
    if (preferred.length > 0) {
      const existing = await dir.providerVersion(provider, version);
      if (existing !== undefined && await existing.matchesAnyHash(preferred).catch(() => false)) {
        evts.providerAlreadyInstalled?.(provider, version, isGlobal);
        return { auth: undefined, hashes: prior };
      }
    }
    evts.fetchPackageMeta?.(provider, version);
    let auth: PackageAuthResult | undefined;
    let installed: CachedProvider;
    try {
      const meta = await this.#opts.source.packageMeta(provider, version, dir.platform, { signal });
      evts.fetchPackageBegin?.(provider, version, meta.location, isGlobal);
      const allowed = mode === "force" ? [] : preferred;
      auth = await dir.installPackage(meta, allowed, {
        signal,
        allowSkippingInstallWithoutHashes: isGlobal &&
          this.#opts.globalCacheMayBreakLockFile === true,
        onLockContended: () => evts.cacheDirLockContended?.(dir.basePath),
        fetch: this.#opts.fetch,
        retries: this.#opts.retries,
      });
      installed = await this.#verifyInstalled(dir, provider, version);
    } catch (err) {
      evts.fetchPackageFailure?.(provider, version, err as Error);
      throw err;
    }
    let newHash: string;
    try {
      // A package this process just extracted has its h1 from the extraction; else hash it.
      newHash = await installedPackageHash(installed.packageDir) ?? await installed.hash();
    } catch (cause) {
      const err = new ProviderInstallError(
        `after installing ${
          providerAddressString(provider)
        }, failed to compute a checksum for it: ${(cause as Error).message}`,
        { cause },
      );
      evts.fetchPackageFailure?.(provider, version, err);
      throw err;
    }
    const signed = auth?.signed ? [...new Set(auth.signedHashes)].sort() : [];
    const priorSorted = [...prior].sort();
    evts.providersLockUpdated?.(provider, version, [newHash], signed, priorSorted);
    evts.fetchPackageSuccess?.(provider, version, installed.packageDir, auth);
    return { auth, hashes: [newHash, ...priorSorted, ...signed] };
  }

  async #verifyInstalled(
    dir: Dir,
    provider: ProviderAddress,
    version: Version,
  ): Promise<CachedProvider> {
    const entry = await dir.providerVersion(provider, version);
    if (entry === undefined) {
      throw new ProviderInstallError(
        `after installing ${
          providerAddressString(provider)
        } it is still not detected in ${dir.basePath}; this is a bug in tfcache`,
      );
    }
    try {
      await entry.executableFile();
    } catch (cause) {
      throw new ProviderInstallError(`provider binary not found: ${(cause as Error).message}`, {
        cause,
      });
    }
    return entry;
  }
}

function _onlyUnspecified(constraints: VersionConstraints): boolean {
  return constraints.some((c) => c.operator === "=" && isUnspecifiedVersion(c.boundary));
}

/**
 * Progress callbacks of {@linkcode import("./installer.ts").Installer.ensureProviderVersions},
 * mirroring terraform/OpenTofu's `InstallerEvents` (reference-providercache §3.7). Every field is
 * optional. Per provider the order is: BuiltIn… | QueryPackagesBegin → [Warning] →
 * Success/Failure → [AlreadyInstalled | FetchPackageMeta → FetchPackageBegin →
 * [CacheDirLockContended] → (Failure | ProvidersLockUpdated → FetchPackageSuccess)] →
 * [LinkFromCacheBegin → Success/Failure]. Providers are processed concurrently, so streams of
 * different providers interleave.
 *
 * @module
 */

import type { ProviderAddress } from "../registry/provider_address.ts";
import type { Version } from "../registry/version.ts";
import type { VersionConstraints } from "../registry/version_constraints.ts";
import type { PackageAuthResult, PackageLocation } from "./package_meta.ts";

/** One requirement as passed to `pendingProviders`. */
export interface PendingProvider {
  /** The provider. */
  readonly provider: ProviderAddress;
  /** Its merged constraints (empty: any version). */
  readonly constraints: VersionConstraints;
}

/** Installer progress callbacks. */
export interface InstallerEvents {
  /** First, always (even with no requirements): every provider the other events may mention. */
  pendingProviders?(reqs: readonly PendingProvider[]): void;
  /** A suitable version is already in the target (`inCache` false) or global cache (true). */
  providerAlreadyInstalled?(provider: ProviderAddress, version: Version, inCache: boolean): void;
  /** A built-in provider is available. */
  builtInProviderAvailable?(provider: ProviderAddress): void;
  /** A built-in provider request is invalid. */
  builtInProviderFailure?(provider: ProviderAddress, error: Error): void;
  /** Version selection starts (`locked`: the lock file pins the version). */
  queryPackagesBegin?(
    provider: ProviderAddress,
    constraints: VersionConstraints,
    locked: boolean,
  ): void;
  /** A version was selected. */
  queryPackagesSuccess?(provider: ProviderAddress, version: Version): void;
  /** Version selection failed. */
  queryPackagesFailure?(provider: ProviderAddress, error: Error): void;
  /** The source returned warnings. */
  queryPackagesWarning?(provider: ProviderAddress, warnings: readonly string[]): void;
  /** Linking from the global cache into the target starts. */
  linkFromCacheBegin?(provider: ProviderAddress, version: Version, cacheRoot: string): void;
  /** Linking succeeded. */
  linkFromCacheSuccess?(provider: ProviderAddress, version: Version, localDir: string): void;
  /** Linking failed. */
  linkFromCacheFailure?(provider: ProviderAddress, version: Version, error: Error): void;
  /** Package metadata is about to be requested from the source. */
  fetchPackageMeta?(provider: ProviderAddress, version: Version): void;
  /** The package is about to be obtained (`inCache`: into the global cache). */
  fetchPackageBegin?(
    provider: ProviderAddress,
    version: Version,
    location: PackageLocation,
    inCache: boolean,
  ): void;
  /** The package was installed at `localDir`. */
  fetchPackageSuccess?(
    provider: ProviderAddress,
    version: Version,
    localDir: string,
    auth: PackageAuthResult | undefined,
  ): void;
  /** Obtaining or installing the package failed. */
  fetchPackageFailure?(provider: ProviderAddress, version: Version, error: Error): void;
  /** Another process has held a package lock in `cacheDir` for 5 s. */
  cacheDirLockContended?(cacheDir: string): void;
  /** The lock entry will be updated with these hashes (each list sorted). */
  providersLockUpdated?(
    provider: ProviderAddress,
    version: Version,
    localHashes: readonly string[],
    signedHashes: readonly string[],
    priorHashes: readonly string[],
  ): void;
  /** Last, when at least one package was fetched and authenticated: provider string → result. */
  providersFetched?(results: ReadonlyMap<string, PackageAuthResult>): void;
}

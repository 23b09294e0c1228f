/**
 * The provider source interface the installer queries (terraform's `getproviders.Source`).
 *
 * @module
 */

import type { Platform } from "../../registry/platform.ts";
import type { ProviderAddress } from "../../registry/provider_address.ts";
import type { Version } from "../../registry/version.ts";
import type { PackageMeta } from "../package_meta.ts";

/** The versions a source offers for one provider. */
export interface AvailableVersions {
  /** Versions, ascending. */
  readonly versions: readonly Version[];
  /** Warnings to show to the user (registry deprecation notices, ignored entries, ...). */
  readonly warnings: readonly string[];
}

/** Options passed to source calls. */
export interface SourceCallOptions {
  /** Aborts the call. */
  signal?: AbortSignal | undefined;
}

/**
 * Where providers come from: an origin registry, a network mirror, a filesystem mirror, or the
 * tfcache cache (a registry or network-mirror source whose fetch goes through the cache).
 */
export interface ProviderSource {
  /**
   * @param provider The provider.
   * @param options Abort signal.
   * @returns The versions offered (an unknown provider may give an empty list or an error).
   */
  availableVersions(
    provider: ProviderAddress,
    options?: SourceCallOptions,
  ): Promise<AvailableVersions>;

  /**
   * @param provider The provider.
   * @param version The exact version.
   * @param platform The target platform.
   * @param options Abort signal.
   * @returns Where the package is and how to authenticate it.
   * @throws {import("../errors.ts").PackageNotAvailableError} when there is no such package.
   */
  packageMeta(
    provider: ProviderAddress,
    version: Version,
    platform: Platform,
    options?: SourceCallOptions,
  ): Promise<PackageMeta>;

  /**
   * @param provider The provider.
   * @returns How this source describes itself for that provider (for UI).
   */
  forDisplay(provider: ProviderAddress): string;
}

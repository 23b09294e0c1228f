/**
 * A filesystem mirror (`provider_installation { filesystem_mirror { path = "…" } }`,
 * reference-providercache §7.4): packed zips and unpacked directories found by scanning the
 * directory once. No authentication: only the lock file's hashes protect these installs.
 *
 * @module
 */

import { platformEquals, platformString } from "../../registry/platform.ts";
import type { Platform } from "../../registry/platform.ts";
import { type ProviderAddress, providerAddressString } from "../../registry/provider_address.ts";
import {
  isUnspecifiedVersion,
  sortVersions,
  type Version,
  versionEquals,
  versionString,
} from "../../registry/version.ts";
import { PackageNotAvailableError } from "../errors.ts";
import type { PackageMeta } from "../package_meta.ts";
import {
  type LocalPackage,
  searchLocalDirectory,
  type SearchLocalDirectoryOptions,
} from "../search_local_directory.ts";
import type { AvailableVersions, ProviderSource } from "./source.ts";

/** Packages from a local directory in the filesystem-mirror layout. */
export class FilesystemMirrorSource implements ProviderSource {
  readonly #base: string;
  readonly #options: SearchLocalDirectoryOptions;
  #scan: Promise<Map<string, LocalPackage[]>> | undefined;

  /**
   * @param baseDir The mirror directory.
   * @param options Default registry host and warning sink for the scan.
   */
  constructor(baseDir: string, options: SearchLocalDirectoryOptions = {}) {
    this.#base = baseDir;
    this.#options = options;
  }

  #packages(): Promise<Map<string, LocalPackage[]>> {
    this.#scan ??= searchLocalDirectory(this.#base, this.#options);
    return this.#scan;
  }

  /**
   * @param provider The provider.
   * @returns Every version present (any platform, either layout), ascending; never "not found".
   * @throws {import("../search_local_directory.ts").SearchDirectoryError} when the scan fails.
   */
  async availableVersions(provider: ProviderAddress): Promise<AvailableVersions> {
    const list = (await this.#packages()).get(providerAddressString(provider)) ?? [];
    const unique: Version[] = [];
    for (const p of list) {
      if (!unique.some((v) => versionEquals(v, p.version))) unique.push(p.version);
    }
    const versions = sortVersions(unique);
    const warnings: string[] = [];
    if (versions.length > 0 && isUnspecifiedVersion(versions[0]!)) {
      warnings.push(
        `Provider ${
          providerAddressString(provider)
        } has an unspecified (0.0.0) version available in the filesystem mirror, source at ${this.#base}. It will not be used. \nIf the version 0.0.0 is intended to represent a non-published provider, consider using dev_overrides - https://developer.hashicorp.com/terraform/cli/config/config-file#development-overrides-for-provider-developers`,
      );
    }
    return { versions, warnings };
  }

  /**
   * @param provider The provider.
   * @param version The exact version.
   * @param platform The platform.
   * @returns The first matching package (no authentication).
   * @throws {PackageNotAvailableError} when there is none.
   */
  async packageMeta(
    provider: ProviderAddress,
    version: Version,
    platform: Platform,
  ): Promise<PackageMeta> {
    const list = (await this.#packages()).get(providerAddressString(provider)) ?? [];
    const hit = list.find((p) =>
      versionEquals(p.version, version) && platformEquals(p.targetPlatform, platform)
    );
    if (hit === undefined) {
      throw new PackageNotAvailableError(
        `provider ${providerAddressString(provider)} ${
          versionString(version)
        } is not available for ${platformString(platform)}`,
      );
    }
    return {
      provider,
      version: hit.version,
      protocolVersions: [],
      targetPlatform: hit.targetPlatform,
      filename: hit.filename,
      location: hit.location,
    };
  }

  /**
   * @returns The mirror directory.
   */
  forDisplay(): string {
    return this.#base;
  }
}

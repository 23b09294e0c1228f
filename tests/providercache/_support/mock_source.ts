/**
 * An in-memory provider source for installer tests, recording its calls.
 *
 * @module
 */

import { type Platform, platformString } from "../../../src/registry/platform.ts";
import {
  type ProviderAddress,
  providerAddressString,
} from "../../../src/registry/provider_address.ts";
import { parseVersion, type Version, versionString } from "../../../src/registry/version.ts";
import { PackageNotAvailableError } from "../../../src/providercache/errors.ts";
import type {
  PackageAuthentication,
  PackageLocation,
  PackageMeta,
} from "../../../src/providercache/package_meta.ts";
import type {
  AvailableVersions,
  ProviderSource,
} from "../../../src/providercache/sources/source.ts";

/** One package offered by {@linkcode MockSource}. */
export interface MockPackage {
  /** Provider. */
  provider: ProviderAddress;
  /** Version string. */
  version: string;
  /** Platform. */
  platform: Platform;
  /** Where it is. */
  location: PackageLocation;
  /** Authentication. */
  authentication?: PackageAuthentication;
}

/** A source over a fixed list of packages (versions without packages can be listed too). */
export class MockSource implements ProviderSource {
  /** Every call, e.g. `availableVersions example.com/foo/beep`. */
  readonly calls: string[] = [];
  readonly #packages: MockPackage[];
  readonly #extraVersions: Map<string, string[]>;

  /**
   * @param packages The packages.
   * @param extraVersions Provider string → versions listed without packages.
   */
  constructor(packages: MockPackage[], extraVersions: Record<string, string[]> = {}) {
    this.#packages = packages;
    this.#extraVersions = new Map(Object.entries(extraVersions));
  }

  /** @inheritdoc */
  availableVersions(provider: ProviderAddress): Promise<AvailableVersions> {
    const key = providerAddressString(provider);
    this.calls.push(`availableVersions ${key}`);
    const set = new Set(this.#extraVersions.get(key) ?? []);
    for (const p of this.#packages) {
      if (providerAddressString(p.provider) === key) set.add(p.version);
    }
    return Promise.resolve({ versions: [...set].map(parseVersion), warnings: [] });
  }

  /** @inheritdoc */
  packageMeta(
    provider: ProviderAddress,
    version: Version,
    platform: Platform,
  ): Promise<PackageMeta> {
    const key = providerAddressString(provider);
    this.calls.push(`packageMeta ${key} ${versionString(version)}`);
    const hit = this.#packages.find((p) =>
      providerAddressString(p.provider) === key && p.version === versionString(version) &&
      platformString(p.platform) === platformString(platform)
    );
    if (hit === undefined) {
      return Promise.reject(
        new PackageNotAvailableError(
          `provider ${key} ${versionString(version)} is not available for ${
            platformString(platform)
          }`,
        ),
      );
    }
    return Promise.resolve({
      provider,
      version,
      protocolVersions: ["5.0"],
      targetPlatform: platform,
      filename: `terraform-provider-${provider.type}_${hit.version}_${
        platformString(platform)
      }.zip`,
      location: hit.location,
      authentication: hit.authentication,
    });
  }

  /** @inheritdoc */
  forDisplay(): string {
    return "mock";
  }
}

/**
 * An event recorder: every callback appends `name args…` (providers and versions as strings).
 *
 * @returns The events object and its log.
 */
export function recordEvents(): {
  events: Record<string, (...args: unknown[]) => void>;
  log: string[];
} {
  const log: string[] = [];
  const fmt = (a: unknown): string => {
    if (a === undefined || a === null) return "-";
    if (typeof a === "string" || typeof a === "boolean" || typeof a === "number") return String(a);
    if (a instanceof Error) return `error(${a.message})`;
    if (a instanceof Map) return `map(${[...a.keys()].join(",")})`;
    if (Array.isArray(a)) return `[${a.map(fmt).join(",")}]`;
    const o = a as Record<string, unknown>;
    if ("hostname" in o && "namespace" in o && "type" in o) {
      return providerAddressString(o as unknown as ProviderAddress);
    }
    if ("major" in o && "minor" in o) return versionString(o as unknown as Version);
    if ("kind" in o && ("path" in o || "url" in o)) return `${o.kind}`;
    if ("label" in o) return `auth(${o.label})`;
    if ("provider" in o && "constraints" in o) return fmt(o.provider);
    return JSON.stringify(o);
  };
  const names = [
    "pendingProviders",
    "providerAlreadyInstalled",
    "builtInProviderAvailable",
    "builtInProviderFailure",
    "queryPackagesBegin",
    "queryPackagesSuccess",
    "queryPackagesFailure",
    "queryPackagesWarning",
    "linkFromCacheBegin",
    "linkFromCacheSuccess",
    "linkFromCacheFailure",
    "fetchPackageMeta",
    "fetchPackageBegin",
    "fetchPackageSuccess",
    "fetchPackageFailure",
    "cacheDirLockContended",
    "providersLockUpdated",
    "providersFetched",
  ];
  const events: Record<string, (...args: unknown[]) => void> = {};
  for (const n of names) {
    events[n] = (...args: unknown[]) => {
      log.push(
        [n, ...args.map((a) => Array.isArray(a) && a.length === 0 ? "[]" : fmt(a))].join(" "),
      );
    };
  }
  return { events, log };
}

/**
 * What a provider source says about one installable package: where it is
 * ({@linkcode PackageLocation}), how to authenticate it ({@linkcode PackageAuthentication}), and
 * what the authentication established ({@linkcode PackageAuthResult}).
 *
 * @module
 */

import type { FetchLike } from "../registry/fetch_like.ts";
import { type Platform, platformString } from "../registry/platform.ts";
import type { ProviderAddress } from "../registry/provider_address.ts";
import type { SignatureAuthentication } from "../registry/signature.ts";
import { type Version, versionString } from "../registry/version.ts";

/** A zip on local disk. */
export interface PackageLocalArchive {
  /** Discriminant. */
  readonly kind: "archive";
  /** Path of the zip. */
  readonly path: string;
}

/** An unpacked package directory on local disk. */
export interface PackageLocalDir {
  /** Discriminant. */
  readonly kind: "dir";
  /** Path of the directory. */
  readonly path: string;
}

/** A zip to download over http(s). */
export interface PackageHttpUrl {
  /** Discriminant. */
  readonly kind: "http";
  /** Absolute URL. */
  readonly url: string;
  /** The fetch to download with (e.g. one that goes through the tfcache cache); default `fetch`. */
  readonly fetch?: FetchLike | undefined;
}

/** Where a package can be obtained. */
export type PackageLocation = PackageLocalArchive | PackageLocalDir | PackageHttpUrl;

/**
 * @param location A location.
 * @returns Its display form (the path or URL), as terraform's `String()`.
 */
export function locationString(location: PackageLocation): string {
  return location.kind === "http" ? location.url : location.path;
}

/**
 * The registry's signed checksums: SHA256SUMS matched the registry's `shasum` for this file and
 * its signature verified before the download. The archive must still hash to `archiveSha256`.
 */
export interface SignedChecksumsAuthentication {
  /** Discriminant. */
  readonly kind: "signed-checksums";
  /** Hex SHA-256 the archive must have. */
  readonly archiveSha256: string;
  /** Who signed SHA256SUMS. */
  readonly signature: SignatureAuthentication;
  /** `zh:` of every SHA256SUMS line (all platforms), trusted because signed. */
  readonly documentHashes: readonly string[];
}

/** Hashes reported by a network mirror: the package must match at least one of them. */
export interface ReportedHashesAuthentication {
  /** Discriminant. */
  readonly kind: "reported-hashes";
  /** The target platform's `h1:`/`zh:` hashes. */
  readonly hashes: readonly string[];
}

/** How a package must be authenticated once obtained. */
export type PackageAuthentication = SignedChecksumsAuthentication | ReportedHashesAuthentication;

/**
 * The outcome of authenticating a package, as terraform reports it (`verified checksum`,
 * `signed by HashiCorp`, `signed by a HashiCorp partner`, `self-signed`).
 */
export interface PackageAuthResult {
  /** terraform's label. */
  readonly label: string;
  /** Whether any party signed the package's checksums. */
  readonly signed: boolean;
  /** Signing key id (16 hex, upper-case) when signed. */
  readonly keyId: string | undefined;
  /** Hashes trusted because they were signed (all platforms); recorded in the lock file. */
  readonly signedHashes: readonly string[];
  /** Hashes this process verified against the bytes it installed. */
  readonly verifiedHashes: readonly string[];
}

/** Metadata about one package, as a source's `packageMeta` returns it. */
export interface PackageMeta {
  /** The provider. */
  readonly provider: ProviderAddress;
  /** The version. */
  readonly version: Version;
  /** Plugin protocol versions (empty when the source does not say). */
  readonly protocolVersions: readonly string[];
  /** The platform the package is built for. */
  readonly targetPlatform: Platform;
  /** The package file name, e.g. `terraform-provider-null_3.2.3_linux_amd64.zip`. */
  readonly filename: string;
  /** Where to get it. */
  readonly location: PackageLocation;
  /** How to authenticate it (`undefined`: only the lock file's hashes protect it). */
  readonly authentication?: PackageAuthentication | undefined;
}

/**
 * @param type Provider type.
 * @param version The version.
 * @param platform The platform.
 * @returns `terraform-provider-TYPE_VERSION_OS_ARCH.zip`.
 */
export function packageFilename(type: string, version: Version, platform: Platform): string {
  return `terraform-provider-${type}_${versionString(version)}_${platformString(platform)}.zip`;
}

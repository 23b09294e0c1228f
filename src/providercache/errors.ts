/**
 * Typed errors of the provider cache and installer. Messages follow terraform's wording where
 * users (and scripts) know it, and say what to do next.
 *
 * @module
 */

import { type ProviderAddress, providerAddressString } from "../registry/provider_address.ts";
import { compareProviderAddresses } from "../registry/provider_address.ts";
import type { LockFile } from "../lock/lock_file.ts";

/** A zip entry that would escape the package directory, or that cannot be represented safely. */
export class UnsafeArchiveEntryError extends Error {
  /** The archive. */
  readonly archive: string;
  /** The entry name as stored. */
  readonly entry: string;

  /**
   * @param archive Path of the archive.
   * @param entry The offending entry name.
   * @param problem Why it is refused.
   */
  constructor(archive: string, entry: string, problem: string) {
    super(
      `Refusing to extract provider package "${archive}": entry "${entry}" ${problem}; the archive is unsafe, so nothing was installed`,
    );
    this.name = "UnsafeArchiveEntryError";
    this.archive = archive;
    this.entry = entry;
  }
}

/** Which bound of {@linkcode ExtractLimits} an archive exceeded. */
export type ArchiveLimitKind = "entries" | "file-bytes" | "total-bytes";

/** An archive exceeding the extraction limits (a "zip bomb", or a limit set too low). */
export class ArchiveLimitError extends Error {
  /** The archive. */
  readonly archive: string;
  /** Which limit. */
  readonly limit: ArchiveLimitKind;
  /** The configured maximum. */
  readonly maximum: number;

  /**
   * @param archive Path of the archive.
   * @param limit Which limit was exceeded.
   * @param maximum The configured maximum.
   * @param detail What exceeded it (e.g. the entry name).
   */
  constructor(archive: string, limit: ArchiveLimitKind, maximum: number, detail: string) {
    const what = limit === "entries"
      ? `more than ${maximum} entries`
      : limit === "file-bytes"
      ? `a file larger than ${maximum} bytes (${detail})`
      : `more than ${maximum} bytes in total when unpacked (${detail})`;
    super(
      `Refusing to extract provider package "${archive}": it has ${what}; if this package is genuine, raise the extraction limit`,
    );
    this.name = "ArchiveLimitError";
    this.archive = archive;
    this.limit = limit;
    this.maximum = maximum;
  }
}

/** A package that does not match any of the hashes recorded in the dependency lock file. */
export class PackageHashMismatchError extends Error {
  /** The provider. */
  readonly provider: ProviderAddress;
  /** The version (string form). */
  readonly version: string;
  /** The hashes that were acceptable. */
  readonly allowed: readonly string[];

  /**
   * @param provider The provider.
   * @param version The version.
   * @param allowed The acceptable hashes.
   * @param what Which copy was checked: `current package`, `local package`, `cached package`.
   * @param message Overrides the default message.
   */
  constructor(
    provider: ProviderAddress,
    version: string,
    allowed: readonly string[],
    what: string,
    message?: string,
  ) {
    super(
      message ??
        `the ${what} for ${
          providerAddressString(provider)
        } ${version} doesn't match any of the checksums previously recorded in the dependency lock file; for more information: https://developer.hashicorp.com/terraform/language/files/dependency-lock#checksum-verification`,
    );
    this.name = "PackageHashMismatchError";
    this.provider = provider;
    this.version = version;
    this.allowed = allowed;
  }
}

/** A downloaded archive whose SHA-256 differs from the one its source announced. */
export class ArchiveChecksumError extends Error {
  /** Expected `zh:` hash. */
  readonly expected: string;
  /** Actual `zh:` hash. */
  readonly actual: string;

  /**
   * @param location Where the archive came from.
   * @param expected Expected `zh:` hash.
   * @param actual Actual `zh:` hash.
   */
  constructor(location: string, expected: string, actual: string) {
    super(
      `archive from ${location} has incorrect checksum ${actual} (expected ${expected}); the download was corrupted or tampered with`,
    );
    this.name = "ArchiveChecksumError";
    this.expected = expected;
    this.actual = actual;
  }
}

/** A package download that failed (HTTP status, network, truncated body, cancellation). */
export class PackageDownloadError extends Error {
  /** The URL. */
  readonly url: string;
  /** HTTP status when the server answered, else undefined. */
  readonly status: number | undefined;

  /**
   * @param url The URL.
   * @param message The problem (terraform's wording).
   * @param options `status` and `cause`.
   */
  constructor(url: string, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "PackageDownloadError";
    this.url = url;
    this.status = options.status;
  }
}

/** A cache entry that has no file recognisable as the provider's executable. */
export class ExecutableNotFoundError extends Error {
  /** The package directory. */
  readonly packageDir: string;

  /**
   * @param packageDir The package directory.
   * @param message terraform's wording.
   * @param options `cause`.
   */
  constructor(packageDir: string, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "ExecutableNotFoundError";
    this.packageDir = packageDir;
  }
}

/** A source has no package of a provider version for a platform. */
export class PackageNotAvailableError extends Error {
  /**
   * @param message terraform's wording, e.g. `provider example.com/foo/beep 1.0.0 is not available for bleep_bloop`.
   */
  constructor(message: string) {
    super(message);
    this.name = "PackageNotAvailableError";
  }
}

/** A source that cannot be queried (bad answer, unreachable, unknown provider). */
export class SourceQueryError extends Error {
  /** HTTP status when the source answered with one. */
  readonly status: number | undefined;

  /**
   * @param message What went wrong (terraform's wording where it has one).
   * @param options `status` and `cause`.
   */
  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "SourceQueryError";
    this.status = options.status;
  }
}

/** An installation step that failed for one provider (selection, metadata, install, link). */
export class ProviderInstallError extends Error {
  /**
   * @param message terraform's wording of the failure.
   * @param options `cause`.
   */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "ProviderInstallError";
  }
}

/** One failed provider inside an {@linkcode InstallerError}. */
export interface ProviderFailure {
  /** The provider. */
  readonly provider: ProviderAddress;
  /** Why it failed. */
  readonly error: Error;
}

/**
 * Several providers failed to install. `locks` holds the new lock entries of the providers that
 * succeeded (failed ones keep their previous entries), as terraform returns them alongside the
 * error.
 */
export class InstallerError extends Error {
  /** Every failure, sorted by provider address. */
  readonly failures: readonly ProviderFailure[];
  /** The partially-updated locks. */
  readonly locks: LockFile;

  /**
   * @param failures The failures (any order).
   * @param locks The partially-updated locks.
   */
  constructor(failures: readonly ProviderFailure[], locks: LockFile) {
    const sorted = [...failures].sort((a, b) => compareProviderAddresses(a.provider, b.provider));
    const lines = sorted.map((f) => `- ${providerAddressString(f.provider)}: ${f.error.message}`);
    super(`some providers could not be installed:\n${lines.join("\n")}`.trim());
    this.name = "InstallerError";
    this.failures = sorted;
    this.locks = locks;
  }

  /**
   * @param provider A provider.
   * @returns Its error, or `undefined` when it did not fail.
   */
  errorFor(provider: ProviderAddress): Error | undefined {
    const key = providerAddressString(provider);
    return this.failures.find((f) => providerAddressString(f.provider) === key)?.error;
  }
}

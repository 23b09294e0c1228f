/**
 * Typed errors of `tfcache lock` (and `tfcache run --lock-platform`). Each message says what is
 * wrong, where it comes from and what to do; `main()` turns them into exit code 1.
 *
 * @module
 */

import type { ProviderConstraintSource } from "../config/config_requirements.ts";

/** Renders constraint sources as indented lines: `"~> 1.0" from main.tf:5 (root module)`. */
export function describeConstraintSources(sources: readonly ProviderConstraintSource[]): string {
  return sources.map((s) =>
    `  ${s.constraints === "" ? "(any version)" : `"${s.constraints}"`} from ${s.from} (${
      s.module === "" ? "root module" : s.module
    })`
  ).join("\n");
}

/** No published version meets every constraint the configuration places on a provider. */
export class NoMatchingVersionError extends Error {
  /** `host/namespace/type`. */
  readonly provider: string;
  /** Every constraint and where it was written. */
  readonly sources: readonly ProviderConstraintSource[];

  /**
   * @param provider `host/namespace/type`.
   * @param sources Every module's constraint on it.
   * @param merged The canonical merged constraint string.
   * @param available Versions the registry lists (newest last), for the hint.
   */
  constructor(
    provider: string,
    sources: readonly ProviderConstraintSource[],
    merged: string,
    available: readonly string[],
  ) {
    const shown = available.length > 8
      ? `…, ${available.slice(-8).join(", ")}`
      : available.join(", ") || "(none)";
    super(
      `No available version of provider "${provider}" meets all of its version constraints ` +
        `("${merged}"):\n${describeConstraintSources(sources)}\n` +
        `Available versions: ${shown}.\n` +
        "Relax or align the constraints above so that at least one published version meets all of them.",
    );
    this.name = "NoMatchingVersionError";
    this.provider = provider;
    this.sources = sources;
  }
}

/** The version in the lock file no longer meets the configuration's constraints. */
export class LockedVersionMismatchError extends Error {
  /** `host/namespace/type`. */
  readonly provider: string;
  /** The locked version. */
  readonly locked: string;

  /**
   * @param provider `host/namespace/type`.
   * @param locked The version in the lock file.
   * @param merged The canonical merged constraint string.
   * @param sources Every module's constraint on the provider.
   */
  constructor(
    provider: string,
    locked: string,
    merged: string,
    sources: readonly ProviderConstraintSource[],
  ) {
    super(
      `Locked provider ${provider} ${locked} does not match the configured version constraint ` +
        `"${merged}":\n${describeConstraintSources(sources)}\n` +
        `Run "tfcache lock --upgrade" (or "terraform init -upgrade") to allow selection of a new version.`,
    );
    this.name = "LockedVersionMismatchError";
    this.provider = provider;
    this.locked = locked;
  }
}

/** `--provider ADDR` names a provider the configuration does not require. */
export class ProviderNotRequiredError extends Error {
  /** The address as given. */
  readonly given: string;

  /**
   * @param given The address as given on the command line.
   * @param canonical Its fully-qualified form.
   * @param required The providers the configuration requires.
   */
  constructor(given: string, canonical: string, required: readonly string[]) {
    super(
      `Invalid --provider "${given}": the provider ${canonical} is not required by the ` +
        `configuration (it requires: ${required.join(", ") || "no providers"})`,
    );
    this.name = "ProviderNotRequiredError";
    this.given = given;
  }
}

/** The provider's registry does not know the provider at all (404 on `versions`). */
export class LockProviderNotFoundError extends Error {
  /** `host/namespace/type`. */
  readonly provider: string;

  /**
   * @param provider `host/namespace/type`.
   * @param sources Where the configuration requires it.
   */
  constructor(provider: string, sources: readonly ProviderConstraintSource[]) {
    const host = provider.split("/")[0] ?? provider;
    super(
      `Provider ${provider} was not found: the registry at ${host} has no such provider ` +
        `(required from ${
          sources.map((s) => s.from).join(", ") || "the configuration"
        }). Check the source address for typos and that the registry publishes it.`,
    );
    this.name = "LockProviderNotFoundError";
    this.provider = provider;
  }
}

/** The selected version has no package for a requested platform. */
export class PlatformNotPublishedError extends Error {
  /** `host/namespace/type`. */
  readonly provider: string;
  /** The version. */
  readonly version: string;
  /** The platform, `os_arch`. */
  readonly platform: string;

  /**
   * @param provider `host/namespace/type`.
   * @param version The selected version.
   * @param platform The requested platform.
   * @param published The platforms the registry lists for the version (may be empty: unknown).
   */
  constructor(provider: string, version: string, platform: string, published: readonly string[]) {
    super(
      `provider ${provider} ${version} is not available for ${platform}` +
        (published.length > 0 ? ` (it is published for ${published.join(", ")})` : "") +
        `; drop --platform ${platform} or choose a version that supports it`,
    );
    this.name = "PlatformNotPublishedError";
    this.provider = provider;
    this.version = version;
    this.platform = platform;
  }
}

/** SHA256SUMS of a provider version is not validly signed. */
export class ChecksumsSignatureError extends Error {
  /** `host/namespace/type`. */
  readonly provider: string;
  /** The version. */
  readonly version: string;
  /** The key id involved, when known. */
  readonly keyId: string | undefined;

  /**
   * @param provider `host/namespace/type`.
   * @param version The version.
   * @param keyId The key id that signed (or was expected), when known.
   * @param detail Why the signature is not accepted.
   * @param options The underlying `cause`.
   */
  constructor(
    provider: string,
    version: string,
    keyId: string | undefined,
    detail: string,
    options: { cause?: unknown } = {},
  ) {
    super(
      `Invalid signature on SHA256SUMS of provider ${provider} ${version}` +
        `${keyId === undefined ? "" : ` (key id ${keyId})`}: ${detail}. ` +
        "Nothing was written; the provider's release may be tampered with or its registry " +
        "misconfigured — contact the provider's publisher.",
      options,
    );
    this.name = "ChecksumsSignatureError";
    this.provider = provider;
    this.version = version;
    this.keyId = keyId;
  }
}

/** A package's checksum does not match the signed SHA256SUMS (or the registry's `shasum`). */
export class PackageChecksumError extends Error {
  /**
   * @param what Which package, e.g. `terraform-provider-x_1.0.0_linux_amd64.zip of host/ns/x`.
   * @param expected The expected `zh:` hash.
   * @param actual The actual `zh:` hash (or a description).
   * @param against What the expected value came from.
   */
  constructor(what: string, expected: string, actual: string, against: string) {
    super(
      `Checksum of ${what} does not match ${against}: expected ${expected}, got ${actual}. ` +
        "Nothing was written.",
    );
    this.name = "PackageChecksumError";
  }
}

/** The cache answered an error status (it reports what went wrong upstream in the body). */
export class CacheAnswerError extends Error {
  /** HTTP status from the cache. */
  readonly status: number;
  /** What was requested (the path after the cache's secret prefix). */
  readonly what: string;

  /**
   * @param status HTTP status.
   * @param what What was requested.
   * @param detail The cache's message.
   */
  constructor(status: number, what: string, detail: string) {
    super(`Cannot fetch ${what} through the cache (status ${status}): ${detail}`);
    this.name = "CacheAnswerError";
    this.status = status;
    this.what = what;
  }
}

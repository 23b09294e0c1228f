/**
 * Merging freshly computed provider locks into an existing lock file with the semantics of
 * `terraform providers lock`: a provider whose version is unchanged keeps every hash it had
 * (other platforms) and gains the new ones; a provider with a new version gets only the new
 * hashes; providers not being locked are left untouched.
 *
 * @module
 */

import { type LockFile, type ProviderLock } from "../lock/lock_file.ts";
import type { ProviderAddress } from "../registry/provider_address.ts";
import { type Version, versionEquals } from "../registry/version.ts";

/** The newly computed lock of one provider. */
export interface ProviderLockUpdate {
  /** The provider. */
  readonly address: ProviderAddress;
  /** The selected version. */
  readonly version: Version;
  /** Canonical merged constraints (`""` for none). */
  readonly constraints: string;
  /** `h1:` of each requested platform plus `zh:` of every platform in SHA256SUMS. */
  readonly hashes: readonly string[];
}

/** What merging changed for one provider. */
export interface ProviderLockChange {
  /** The resulting lock. */
  readonly lock: ProviderLock;
  /** Whether the provider had no lock before, or had another version. */
  readonly versionChanged: boolean;
  /** Hashes the file did not have before. */
  readonly addedHashes: readonly string[];
}

/**
 * Merges updates into a copy of `old`.
 *
 * @param old The existing lock file (not modified).
 * @param updates One entry per provider being locked.
 * @returns The merged lock file and what changed per provider (in the order of `updates`).
 * @example
 * ```ts
 * import { LockFile } from "../lock/lock_file.ts";
 * import { parseProviderSource } from "../registry/provider_address.ts";
 * import { parseVersion } from "../registry/version.ts";
 * const { lock } = mergeLockUpdates(new LockFile(), [{
 *   address: parseProviderSource("hashicorp/null"),
 *   version: parseVersion("3.2.3"),
 *   constraints: "~> 3.0",
 *   hashes: ["zh:00"],
 * }]);
 * // lock.size === 1
 * ```
 */
export function mergeLockUpdates(
  old: LockFile,
  updates: readonly ProviderLockUpdate[],
): { lock: LockFile; changes: ProviderLockChange[] } {
  const lock = old.clone();
  const changes: ProviderLockChange[] = [];
  for (const update of updates) {
    const prior = old.provider(update.address);
    const sameVersion = prior !== undefined && versionEquals(prior.version, update.version);
    const hashes = sameVersion ? [...prior.hashes, ...update.hashes] : update.hashes;
    const result = lock.setProvider(update.address, update.version, update.constraints, hashes);
    const before = new Set(sameVersion ? prior.hashes : []);
    changes.push({
      lock: result,
      versionChanged: !sameVersion,
      addedHashes: result.hashes.filter((h) => !before.has(h)),
    });
  }
  return { lock, changes };
}

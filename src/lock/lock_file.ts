/**
 * In-memory model of a dependency lock file (`.terraform.lock.hcl`): one entry per
 * provider with the selected version, the canonical constraints string and the hashes.
 *
 * @module
 */

import {
  compareProviderAddresses,
  isBuiltIn,
  isLegacy,
  type ProviderAddress,
  providerAddressString,
} from "../registry/provider_address.ts";
import { type Version, versionEquals } from "../registry/version.ts";
import { constraintsString, type VersionConstraints } from "../registry/version_constraints.ts";
import { mergeHashes, normalizeHashes, preferredHashes } from "./hash_string.ts";

/** One provider's lock. `hashes` is always sorted and free of duplicates. */
export interface ProviderLock {
  /** The provider. */
  readonly address: ProviderAddress;
  /** The selected version. */
  readonly version: Version;
  /** Canonical constraints string, `undefined` when there are none. */
  readonly constraints: string | undefined;
  /** Sorted, de-duplicated hash strings. */
  readonly hashes: readonly string[];
}

/** A provider that cannot appear in a lock file (built-in or legacy). */
export class ProviderNotLockableError extends TypeError {
  /**
   * @param address The rejected provider.
   */
  constructor(address: ProviderAddress) {
    super(
      `Cannot lock provider "${
        providerAddressString(address)
      }": built-in and legacy providers are not eligible for dependency locking`,
    );
    this.name = "ProviderNotLockableError";
  }
}

/**
 * @param address A provider.
 * @returns Whether it may appear in a lock file (not built-in, not legacy).
 */
export function providerIsLockable(address: ProviderAddress): boolean {
  return !isBuiltIn(address) && !isLegacy(address);
}

/**
 * Whether every hash of `target` is also in `have` (Terraform's `ContainsAll`): `true`
 * when `target` is empty, `false` when `have` is empty and `target` is not.
 *
 * @param have Hashes already recorded.
 * @param target Hashes to look for.
 * @returns Whether `have` covers `target`.
 */
export function containsAllHashes(have: readonly string[], target: readonly string[]): boolean {
  const set = new Set(have);
  return target.every((h) => set.has(h));
}

function _constraintsText(c: string | VersionConstraints | undefined): string | undefined {
  const s = typeof c === "string" ? c : c === undefined ? undefined : constraintsString(c);
  return s === "" ? undefined : s;
}

/** The set of provider locks of one lock file. */
export class LockFile {
  #providers = new Map<string, ProviderLock>();

  /**
   * Look up one provider.
   *
   * @param address The provider.
   * @returns Its lock, or `undefined`.
   */
  provider(address: ProviderAddress): ProviderLock | undefined {
    return this.#providers.get(providerAddressString(address));
  }

  /**
   * Replace (or add) a provider's lock. Hashes are sorted and de-duplicated; a
   * constraint set is rendered canonically; an empty constraints string means none.
   *
   * @param address The provider (must be lockable).
   * @param version The selected version.
   * @param constraints Constraints as a canonical string or a parsed set.
   * @param hashes Hash strings.
   * @returns The stored lock.
   * @throws {ProviderNotLockableError} for built-in and legacy providers.
   */
  setProvider(
    address: ProviderAddress,
    version: Version,
    constraints?: string | VersionConstraints,
    hashes: Iterable<string> = [],
  ): ProviderLock {
    if (!providerIsLockable(address)) throw new ProviderNotLockableError(address);
    const lock: ProviderLock = {
      address,
      version,
      constraints: _constraintsText(constraints),
      hashes: normalizeHashes(hashes),
    };
    this.#providers.set(providerAddressString(address), lock);
    return lock;
  }

  /**
   * Add hashes to an existing lock (sorted union).
   *
   * @param address The provider.
   * @param hashes Hashes to add.
   * @returns The updated lock.
   * @throws {RangeError} when the provider has no lock.
   */
  addHashes(address: ProviderAddress, hashes: Iterable<string>): ProviderLock {
    const old = this.provider(address);
    if (old === undefined) {
      throw new RangeError(
        `Cannot add hashes for provider "${providerAddressString(address)}": it has no lock entry`,
      );
    }
    return this.setProvider(address, old.version, old.constraints, mergeHashes(old.hashes, hashes));
  }

  /**
   * Merge another lock file into this one. Providers only in `other` are copied. For a
   * provider in both: with the same exact version the hashes are unioned (and `other`'s
   * constraints win when it has any); with a different version `other`'s entry replaces
   * this one.
   *
   * @param other The lock file to merge in.
   */
  merge(other: LockFile): void {
    for (const theirs of other.allProviders()) {
      const ours = this.provider(theirs.address);
      if (ours !== undefined && versionEquals(ours.version, theirs.version)) {
        this.setProvider(
          theirs.address,
          theirs.version,
          theirs.constraints ?? ours.constraints,
          mergeHashes(ours.hashes, theirs.hashes),
        );
      } else {
        this.setProvider(theirs.address, theirs.version, theirs.constraints, theirs.hashes);
      }
    }
  }

  /**
   * @param address The provider.
   * @returns Whether an entry was removed.
   */
  removeProvider(address: ProviderAddress): boolean {
    return this.#providers.delete(providerAddressString(address));
  }

  /**
   * All locks in lock-file order (hostname, namespace, type).
   *
   * @returns A new sorted array.
   */
  allProviders(): ProviderLock[] {
    return [...this.#providers.values()].sort((a, b) =>
      compareProviderAddresses(a.address, b.address)
    );
  }

  /**
   * @param address The provider.
   * @returns Its `h1:` and `zh:` hashes (empty when not locked).
   */
  preferredHashes(address: ProviderAddress): string[] {
    return preferredHashes(this.provider(address)?.hashes ?? []);
  }

  /** Number of locked providers. */
  get size(): number {
    return this.#providers.size;
  }

  /**
   * @returns Whether no provider is locked.
   */
  isEmpty(): boolean {
    return this.#providers.size === 0;
  }

  /**
   * Terraform's `Equal`: same providers, exact versions (metadata included) and hashes.
   * Constraints are not compared.
   *
   * @param other Another lock file.
   * @returns Whether they are equal.
   */
  equals(other: LockFile): boolean {
    if (this.size !== other.size) return false;
    for (const [key, a] of this.#providers) {
      const b = other.#providers.get(key);
      if (b === undefined || !versionEquals(a.version, b.version)) return false;
      if (a.hashes.length !== b.hashes.length || a.hashes.some((h, i) => h !== b.hashes[i])) {
        return false;
      }
    }
    return true;
  }

  /**
   * @returns An independent copy.
   */
  clone(): LockFile {
    const copy = new LockFile();
    for (const [k, v] of this.#providers) copy.#providers.set(k, v);
    return copy;
  }
}

/**
 * Version selection for `tfcache lock`, as terraform's installer does it: keep the locked version
 * (it must still meet the constraints) unless upgrading; otherwise the newest published version
 * that meets every module's constraints, prereleases only when named exactly.
 *
 * @module
 */

import type { ProviderConstraintSource } from "../config/config_requirements.ts";
import { tryParseVersion, type Version, versionString } from "../registry/version.ts";
import {
  constraintsString,
  meetsConstraints,
  newestMatching,
  parseVersionConstraints,
  type VersionConstraint,
} from "../registry/version_constraints.ts";
import { LockedVersionMismatchError, NoMatchingVersionError } from "./lock_errors.ts";

/** Input of {@linkcode selectProviderVersion}. */
export interface VersionSelectionInput {
  /** `host/namespace/type`, for messages. */
  readonly provider: string;
  /** Every module's constraints on the provider (from `readConfigRequirements`). */
  readonly sources: readonly ProviderConstraintSource[];
  /** Version strings the registry lists (unparseable ones are ignored). */
  readonly available: readonly string[];
  /** The version in the existing lock file, if any. */
  readonly locked: Version | undefined;
  /** `--upgrade`: ignore the locked version. */
  readonly upgrade: boolean;
}

/** The outcome of {@linkcode selectProviderVersion}. */
export interface VersionSelection {
  /** The selected version. */
  readonly version: Version;
  /** Canonical merged constraint string (`""` when unconstrained), as the lock file records it. */
  readonly constraints: string;
  /** Whether the locked version was kept. */
  readonly keptLocked: boolean;
}

/**
 * The intersection of every module's constraints.
 *
 * @param sources Every module's constraints on one provider.
 * @returns The combined constraint list.
 */
export function mergedConstraintList(
  sources: readonly ProviderConstraintSource[],
): VersionConstraint[] {
  return sources.flatMap((s) => parseVersionConstraints(s.constraints));
}

/**
 * Selects the version to lock for one provider.
 *
 * @param input Constraint sources, published versions, the locked version and `--upgrade`.
 * @returns The version, the canonical constraints and whether the lock was kept.
 * @throws {LockedVersionMismatchError} when the locked version no longer meets the constraints
 *   (and `upgrade` is false).
 * @throws {NoMatchingVersionError} when no published version meets them all.
 * @example
 * ```ts
 * const pick = selectProviderVersion({
 *   provider: "registry.terraform.io/hashicorp/null",
 *   sources: [{ constraints: "~> 3.1", from: "main.tf:4", module: "" }],
 *   available: ["3.0.0", "3.1.0", "3.2.3", "4.0.0-beta1"],
 *   locked: undefined,
 *   upgrade: false,
 * });
 * // pick.version is 3.2.3, pick.constraints is "~> 3.1"
 * ```
 */
export function selectProviderVersion(input: VersionSelectionInput): VersionSelection {
  const list = mergedConstraintList(input.sources);
  const constraints = constraintsString(list);
  if (input.locked !== undefined && !input.upgrade) {
    if (!meetsConstraints(input.locked, list)) {
      throw new LockedVersionMismatchError(
        input.provider,
        versionString(input.locked),
        constraints,
        input.sources,
      );
    }
    return { version: input.locked, constraints, keptLocked: true };
  }
  const parsed = input.available.map(tryParseVersion).filter((v) => v !== undefined);
  const best = newestMatching(parsed, list);
  if (best === undefined) {
    throw new NoMatchingVersionError(input.provider, input.sources, constraints, input.available);
  }
  return { version: best, constraints, keptLocked: false };
}

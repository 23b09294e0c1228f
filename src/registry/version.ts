/**
 * Provider versions with go-versions semantics (as Terraform uses them): lenient parsing
 * (`1` → `1.0.0`), precedence that ignores build metadata, and go-versions' own
 * prerelease comparator (which is not semver's).
 *
 * @module
 */

import { _isWildcard, _NUM_NAMES, _scanConstraint } from "./_version_scan.ts";

/** A version `MAJOR.MINOR.PATCH[-PRERELEASE][+METADATA]`. */
export interface Version {
  /** Major number. */
  readonly major: number;
  /** Minor number. */
  readonly minor: number;
  /** Patch number. */
  readonly patch: number;
  /** Prerelease identifiers without the `-`, `""` for a release. */
  readonly prerelease: string;
  /** Build metadata without the `+`, `""` when absent. */
  readonly metadata: string;
}

/** The zero version `0.0.0`, which no constraint set (other than none at all) selects. */
export const UNSPECIFIED_VERSION: Version = Object.freeze({
  major: 0,
  minor: 0,
  patch: 0,
  prerelease: "",
  metadata: "",
});

/** A string that is not a single exact version. */
export class InvalidVersionError extends TypeError {
  /** The rejected input. */
  readonly input: string;
  /** Why it was rejected (go-versions' wording), e.g. `a "v" prefix should not be used`. */
  readonly reason: string;

  /**
   * @param input The rejected input.
   * @param reason Why it was rejected.
   */
  constructor(input: string, reason: string) {
    super(`Invalid version "${input}": ${reason}`);
    this.name = "InvalidVersionError";
    this.input = input;
    this.reason = reason;
  }
}

/**
 * Convert a numbered portion to a number.
 *
 * @param s Decimal digits (leading zeros allowed).
 * @param which Portion name for the error message.
 * @param input Whole input for the error message.
 * @returns The number.
 */
export function _toNumber(s: string, which: string, input: string): number {
  const n = Number.parseInt(s, 10);
  if (!Number.isSafeInteger(n)) {
    throw new InvalidVersionError(input, `${which} number ${s} is too large`);
  }
  return n;
}

/**
 * Parse a single exact version, go-versions style: omitted portions become 0, leading
 * zeros are allowed, a lone trailing `-` or `+` is ignored.
 *
 * @param input The version string.
 * @returns The version.
 * @throws {InvalidVersionError} with go-versions' reason text.
 * @example
 * ```ts
 * versionString(parseVersion("1.2")); // "1.2.0"
 * ```
 */
export function parseVersion(input: string): Version {
  const fail = (reason: string): never => {
    throw new InvalidVersionError(input, reason);
  };
  if (input.trim() === "") fail("empty specification");
  const { raw, rest } = _scanConstraint(input);
  switch (raw.op) {
    case ">":
    case ">=":
    case "<":
    case "<=":
    case "!":
    case "!=":
    case "~>":
    case "^":
    case "~":
      fail(`can't use constraint operator "${raw.op}"; an exact version is required`);
      break;
    case "":
      if (raw.sep !== "") {
        if (raw.sep.includes("v")) fail(`a "v" prefix should not be used`);
        fail("extraneous spaces at start of specification");
      }
      break;
    default:
      fail(`invalid sequence "${raw.op}" at start of specification`);
  }
  if (rest !== "") {
    const remain = rest.trim();
    if (remain === "") fail("extraneous spaces at end of specification");
    if (input.startsWith("v")) fail(`a "v" prefix should not be used`);
    if (remain.startsWith(",") || remain.startsWith("|")) {
      fail("can't specify multiple versions; a single exact version is required");
    }
    if (remain.startsWith("-")) {
      fail("can't specify version range; a single exact version is required");
    }
    if (input.trim().startsWith(remain)) {
      fail(
        "invalid specification; required format is three positive integers separated by periods",
      );
    }
    fail(`invalid characters "${remain}"`);
  }
  if (raw.numCt > 3) {
    fail("too many numbered portions; only three are allowed (major, minor, patch)");
  }
  const nums = raw.nums.map((s, i) => (i >= raw.numCt ? "0" : s));
  nums.forEach((s, i) => {
    if (_isWildcard(s)) {
      fail(`can't use wildcard for ${_NUM_NAMES[i]} number; an exact version is required`);
    }
  });
  return {
    major: _toNumber(nums[0] as string, "major", input),
    minor: _toNumber(nums[1] as string, "minor", input),
    patch: _toNumber(nums[2] as string, "patch", input),
    prerelease: raw.pre,
    metadata: raw.meta,
  };
}

/**
 * Like {@link parseVersion} but returns `undefined` instead of throwing.
 *
 * @param input The version string.
 * @returns The version or `undefined`.
 */
export function tryParseVersion(input: string): Version | undefined {
  try {
    return parseVersion(input);
  } catch (e) {
    if (e instanceof InvalidVersionError) return undefined;
    throw e;
  }
}

/**
 * The canonical string `M.m.p[-pre][+meta]`.
 *
 * @param v The version.
 * @returns e.g. `1.2.0-beta.1+build.5`.
 */
export function versionString(v: Version): string {
  let s = `${v.major}.${v.minor}.${v.patch}`;
  if (v.prerelease !== "") s += `-${v.prerelease}`;
  if (v.metadata !== "") s += `+${v.metadata}`;
  return s;
}

function _isNumeric(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function _lessThanIdent(a: string, b: string): boolean {
  const an = _isNumeric(a);
  const bn = _isNumeric(b);
  if (an && !bn) return true;
  if (bn && !an) return false;
  if (an && a.length !== b.length) return a.length < b.length;
  return a < b;
}

/**
 * go-versions' comparator for dot-separated extra strings (prerelease, and metadata for
 * display ordering). Not semver: a side that reaches its last identifier while the other
 * still has more is less (`beta` < `alpha.1`); numeric identifiers are less than
 * alphanumeric ones and compare by length, then lexically; `""` counts as numeric.
 *
 * @param a First string.
 * @param b Second string.
 * @returns -1, 0 or 1.
 */
export function compareVersionExtra(a: string, b: string): number {
  if (a === b) return 0;
  let s1 = a;
  let s2 = b;
  for (;;) {
    const d1 = s1.indexOf(".");
    const d2 = s2.indexOf(".");
    if (d1 === -1 && d2 !== -1) return -1;
    if (d2 === -1 && d1 !== -1) return 1;
    if (d1 === -1) return _lessThanIdent(s1, s2) ? -1 : 1;
    const p1 = s1.slice(0, d1);
    const p2 = s2.slice(0, d2);
    if (p1 !== p2) return _lessThanIdent(p1, p2) ? -1 : 1;
    s1 = s1.slice(d1 + 1);
    s2 = s2.slice(d2 + 1);
  }
}

/**
 * Precedence order: numbers, then prerelease (a release is greater than any of its
 * prereleases). Build metadata is ignored, so `1.0.0+a` and `1.0.0+b` compare equal.
 *
 * @param a First version.
 * @param b Second version.
 * @returns Negative, zero or positive.
 */
export function compareVersions(a: Version, b: Version): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch !== b.patch) return a.patch < b.patch ? -1 : 1;
  if (a.prerelease === b.prerelease) return 0;
  if (a.prerelease === "") return 1;
  if (b.prerelease === "") return -1;
  return compareVersionExtra(a.prerelease, b.prerelease);
}

/**
 * @param a First version.
 * @param b Second version.
 * @returns Whether `a` has lower precedence than `b`.
 */
export function versionLessThan(a: Version, b: Version): boolean {
  return compareVersions(a, b) < 0;
}

/**
 * Same precedence: equal numbers and prerelease; metadata ignored.
 *
 * @param a First version.
 * @param b Second version.
 * @returns Whether they are the same apart from metadata.
 */
export function versionSame(a: Version, b: Version): boolean {
  return compareVersions(a, b) === 0;
}

/**
 * Exact equality, metadata included (what the lock file and `=` constraints use).
 *
 * @param a First version.
 * @param b Second version.
 * @returns Whether every component is equal.
 */
export function versionEquals(a: Version, b: Version): boolean {
  return a.major === b.major && a.minor === b.minor && a.patch === b.patch &&
    a.prerelease === b.prerelease && a.metadata === b.metadata;
}

/**
 * @param v A version.
 * @returns Whether it is exactly `0.0.0` (no prerelease, no metadata).
 */
export function isUnspecifiedVersion(v: Version): boolean {
  return versionEquals(v, UNSPECIFIED_VERSION);
}

/**
 * Stable ascending sort by precedence (metadata-only differences keep input order).
 *
 * @param versions Versions to sort (not modified).
 * @returns A new sorted array.
 */
export function sortVersions(versions: readonly Version[]): Version[] {
  return [...versions].sort(compareVersions);
}

/**
 * The newest version by precedence; among equals the first one given wins.
 *
 * @param versions Candidate versions.
 * @returns The newest, or `undefined` for an empty list.
 */
export function newestVersion(versions: Iterable<Version>): Version | undefined {
  let best: Version | undefined;
  for (const v of versions) {
    if (best === undefined || compareVersions(v, best) > 0) best = v;
  }
  return best;
}

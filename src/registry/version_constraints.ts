/**
 * Ruby-style version constraints as Terraform uses them (go-versions
 * `ParseRubyStyleMulti`): comma-separated, intersected, with `~>` pessimistic bounds,
 * prereleases selected only when named exactly, and Terraform's canonical string form.
 *
 * Not npm semver: `~>`, prerelease and metadata rules all differ.
 *
 * @module
 */

import { _isWildcard, _NUM_NAMES, _scanConstraint } from "./_version_scan.ts";
import {
  _toNumber,
  compareVersionExtra,
  compareVersions,
  type InvalidVersionError,
  isUnspecifiedVersion,
  type Version,
  versionEquals,
  versionSame,
  versionString,
} from "./version.ts";

/**
 * A constraint operator. `~>minor` is `~> X` or `~> X.Y` (at least the boundary, below
 * the next major); `~>patch` is `~> X.Y.Z` (at least the boundary, below the next minor).
 */
export type ConstraintOperator = "=" | "!=" | ">" | ">=" | "<" | "<=" | "~>minor" | "~>patch";

/** One parsed constraint. Omitted version portions are stored as 0. */
export interface VersionConstraint {
  /** The operator (a bare version is `=`). */
  readonly operator: ConstraintOperator;
  /** The boundary version, metadata kept as written. */
  readonly boundary: Version;
}

/** A set of constraints that must all hold (their intersection). Empty means "any". */
export type VersionConstraints = readonly VersionConstraint[];

/** A constraint string that go-versions would reject. */
export class InvalidVersionConstraintError extends TypeError {
  /** The rejected input. */
  readonly input: string;
  /** go-versions' message, e.g. `invalid specification "=> 1.0": invalid constraint operator …`. */
  readonly reason: string;

  /**
   * @param input The rejected constraint string.
   * @param reason go-versions' error text.
   */
  constructor(input: string, reason: string) {
    super(`Invalid version constraint "${input}": ${reason}`);
    this.name = "InvalidVersionConstraintError";
    this.input = input;
    this.reason = reason;
  }
}

class _ItemError extends Error {}

function _parseOne(
  str: string,
  whole: string,
): { constraint: VersionConstraint; rest: string } {
  const { raw, rest } = _scanConstraint(str);
  const fail = (msg: string): never => {
    throw new _ItemError(msg);
  };
  let operator: ConstraintOperator;
  switch (raw.op) {
    case "=":
    case "":
      operator = "=";
      break;
    case "!=":
    case ">":
    case ">=":
    case "<":
    case "<=":
      operator = raw.op;
      break;
    case "~>":
      operator = raw.numCt === 3 ? "~>patch" : "~>minor";
      break;
    case "=<":
      return fail(`invalid constraint operator "${raw.op}"; did you mean "<="?`);
    case "=>":
      return fail(`invalid constraint operator "${raw.op}"; did you mean ">="?`);
    default:
      return fail(`invalid constraint operator "${raw.op}"`);
  }
  if (raw.sep !== "") {
    if (raw.sep === " ") {
      if (raw.op === "") fail("extraneous spaces at start of specification");
    } else {
      if (raw.sep.includes("v")) fail(`a "v" prefix should not be used when specifying versions`);
      if (raw.op === "") fail("extraneous spaces at start of specification");
      fail(`only one space is expected after the operator "${raw.op}"`);
    }
  }
  if (raw.numCt > 3) {
    fail("too many numbered portions; only three are allowed (major, minor, patch)");
  }
  raw.nums.forEach((s, i) => {
    if (_isWildcard(s)) {
      fail(
        `can't use wildcard for ${
          _NUM_NAMES[i]
        } number; omit segments that should be unconstrained`,
      );
    }
  });
  const num = (i: 0 | 1 | 2): number => {
    const s = raw.nums[i];
    if (s === "") return 0;
    try {
      return _toNumber(s, _NUM_NAMES[i], whole);
    } catch (e) {
      return fail((e as InvalidVersionError).reason);
    }
  };
  const boundary: Version = {
    major: num(0),
    minor: num(1),
    patch: num(2),
    prerelease: raw.pre,
    metadata: raw.meta,
  };
  return { constraint: { operator, boundary }, rest };
}

/**
 * Parse a comma-separated constraint string. Blank means no constraints; a trailing comma
 * is tolerated; at most one space may follow an operator.
 *
 * @param input e.g. `">= 1.2, < 2.0"` or `"~> 4.0"`.
 * @returns The constraints (their intersection is meant).
 * @throws {InvalidVersionConstraintError} with go-versions' reason text.
 * @example
 * ```ts
 * constraintsString(parseVersionConstraints(">=3, <4")); // ">= 3.0.0, < 4.0.0"
 * ```
 */
export function parseVersionConstraints(input: string): VersionConstraint[] {
  const out: VersionConstraint[] = [];
  let remain = input.trim();
  while (remain !== "") {
    let parsed: { constraint: VersionConstraint; rest: string } | undefined;
    let consumed = remain;
    try {
      parsed = _parseOne(remain, input);
      consumed = remain.slice(0, remain.length - parsed.rest.length);
    } catch (e) {
      if (!(e instanceof _ItemError)) throw e;
      const { rest } = _scanConstraint(remain);
      consumed = remain.slice(0, remain.length - rest.length);
      throw new InvalidVersionConstraintError(
        input,
        `invalid specification "${consumed}": ${e.message}`,
      );
    }
    remain = parsed.rest.trim();
    if (remain !== "") {
      if (remain.startsWith("v")) {
        throw new InvalidVersionConstraintError(
          input,
          `a "v" prefix should not be used when specifying versions`,
        );
      }
      if (!remain.startsWith(",")) {
        throw new InvalidVersionConstraintError(input, `missing comma after "${consumed}"`);
      }
      remain = remain.slice(1).trim();
    }
    out.push(parsed.constraint);
  }
  return out;
}

/**
 * Whether `v` is in the raw set a single constraint describes (no prerelease policy).
 *
 * @param v Candidate version.
 * @param c The constraint.
 * @returns Membership.
 */
export function constraintAllows(v: Version, c: VersionConstraint): boolean {
  const b = c.boundary;
  switch (c.operator) {
    case "=":
      return versionEquals(v, b);
    case "!=":
      return !versionEquals(v, b);
    case ">":
      return compareVersions(v, b) > 0;
    case ">=":
      return compareVersions(v, b) >= 0;
    case "<":
      return compareVersions(v, b) < 0;
    case "<=":
      return compareVersions(v, b) <= 0;
    case "~>minor": {
      const upper: Version = {
        major: b.major + 1,
        minor: 0,
        patch: 0,
        prerelease: "",
        metadata: "",
      };
      return compareVersions(v, b) >= 0 && compareVersions(v, upper) < 0;
    }
    case "~>patch": {
      const upper: Version = {
        major: b.major,
        minor: b.minor + 1,
        patch: 0,
        prerelease: "",
        metadata: "",
      };
      return compareVersions(v, b) >= 0 && compareVersions(v, upper) < 0;
    }
  }
}

/**
 * Raw set membership of the intersection (go-versions `MeetingConstraints(...).Has`):
 * every constraint allows `v`, with no prerelease policy. `0.0.0` is a member only of the
 * unconstrained set.
 *
 * @param v Candidate version.
 * @param constraints The constraint set.
 * @returns Membership.
 */
export function allowedByConstraints(v: Version, constraints: VersionConstraints): boolean {
  if (constraints.length === 0) return true;
  if (isUnspecifiedVersion(v)) return false;
  return constraints.every((c) => constraintAllows(v, c));
}

/**
 * Whether Terraform would accept `v` for these constraints: every constraint must hold,
 * a prerelease must also be named exactly by an `=` (or bare) constraint, and `0.0.0`
 * never matches.
 *
 * @param v Candidate version.
 * @param constraints The constraint set (intersection).
 * @returns Whether `v` is acceptable.
 * @example
 * ```ts
 * import { parseVersion } from "./version.ts";
 * meetsConstraints(parseVersion("1.9.0"), parseVersionConstraints("~> 1.2")); // true
 * ```
 */
export function meetsConstraints(v: Version, constraints: VersionConstraints): boolean {
  if (isUnspecifiedVersion(v)) return false;
  if (!constraints.every((c) => constraintAllows(v, c))) return false;
  if (v.prerelease === "") return true;
  return constraints.some((c) => c.operator === "=" && versionEquals(c.boundary, v));
}

/**
 * The newest acceptable version (see {@link meetsConstraints}); among versions of equal
 * precedence the first one given wins.
 *
 * @param versions Available versions.
 * @param constraints The constraint set.
 * @returns The newest match, or `undefined` when nothing matches.
 */
export function newestMatching(
  versions: Iterable<Version>,
  constraints: VersionConstraints,
): Version | undefined {
  let best: Version | undefined;
  for (const v of versions) {
    if (!meetsConstraints(v, constraints)) continue;
    if (best === undefined || compareVersions(v, best) > 0) best = v;
  }
  return best;
}

/**
 * Intersect constraint sets (for example from several modules requiring the same
 * provider). The result is their concatenation; canonicalise it with
 * {@link constraintsString}.
 *
 * @param sets Constraint sets.
 * @returns The combined set.
 */
export function intersectConstraints(...sets: VersionConstraints[]): VersionConstraint[] {
  return sets.flat();
}

const _OP_PRIORITY: Readonly<Record<ConstraintOperator, number>> = {
  ">": 1,
  ">=": 2,
  "=": 3,
  "~>patch": 4,
  "~>minor": 5,
  "<=": 6,
  "<": 7,
  "!=": 8,
};

const _OP_TEXT: Readonly<Record<ConstraintOperator, string>> = {
  ">": "> ",
  ">=": ">= ",
  "=": "",
  "~>patch": "~> ",
  "~>minor": "~> ",
  "<=": "<= ",
  "<": "< ",
  "!=": "!= ",
};

function _compareBoundaries(a: Version, b: Version): number {
  if (versionSame(a, b)) return compareVersionExtra(a.metadata, b.metadata);
  return compareVersions(a, b);
}

/**
 * Render one constraint in canonical form (`>= 1.2.0`, `~> 1.2`, `~> 1.2.3`, `1.2.0`).
 *
 * @param c The constraint.
 * @returns Its canonical text.
 */
export function constraintString(c: VersionConstraint): string {
  const b = c.boundary;
  let s = _OP_TEXT[c.operator];
  s += c.operator === "~>minor" ? `${b.major}.${b.minor}` : `${b.major}.${b.minor}.${b.patch}`;
  if (b.prerelease !== "") s += `-${b.prerelease}`;
  if (b.metadata !== "") s += `+${b.metadata}`;
  return s;
}

/**
 * Terraform's canonical constraint string (`VersionConstraintsString`), as written to the
 * lock file: deduplicated, sorted by boundary (then metadata, then operator priority
 * `>`, `>=`, `=`, `~>` three-part, `~>` two-part, `<=`, `<`, `!=`), joined with `", "`.
 *
 * @param constraints The constraint set.
 * @returns The canonical string, `""` for no constraints.
 * @example
 * ```ts
 * constraintsString(parseVersionConstraints("~> 1.2, >= 1.2, 1.2.4")); // ">= 1.2.0, ~> 1.2, 1.2.4"
 * ```
 */
export function constraintsString(constraints: VersionConstraints): string {
  const seen = new Map<string, VersionConstraint>();
  for (const c of constraints) {
    const key = `${c.operator} ${versionString(c.boundary)}`;
    if (!seen.has(key)) seen.set(key, c);
  }
  const list = [...seen.values()].sort((a, b) =>
    _compareBoundaries(a.boundary, b.boundary) ||
    _OP_PRIORITY[a.operator] - _OP_PRIORITY[b.operator]
  );
  return list.map(constraintString).join(", ");
}

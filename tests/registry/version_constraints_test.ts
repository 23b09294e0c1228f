import assert from "node:assert/strict";
import { parseVersion, type Version, versionString } from "../../src/registry/version.ts";
import {
  allowedByConstraints,
  constraintsString,
  intersectConstraints,
  InvalidVersionConstraintError,
  meetsConstraints,
  newestMatching,
  parseVersionConstraints,
  type VersionConstraint,
} from "../../src/registry/version_constraints.ts";

/** §5.6 truth table (go-versions v1.0.3), as [constraints, version, expected]. */
const TRUTH_TABLE: ReadonlyArray<readonly [string, string, boolean]> = [
  ["", "1.0.0", true],
  ["", "1.0.0-beta", false],
  ["", "0.0.0", false],
  [">= 1.0.0", "1.0.0-beta", false],
  [">= 1.0.0-beta", "1.0.0-beta", false],
  [">= 1.0.0-beta", "1.0.1-beta", false],
  [">= 1.0.0-beta", "1.0.0", true],
  ["1.0.0-beta", "1.0.0-beta", true],
  ["1.0.0-beta, >= 0.9", "1.0.0-beta", true],
  ["1.0.0-beta, < 0.9", "1.0.0-beta", false],
  ["~> 1.2.3-beta", "1.2.3-beta", false],
  ["~> 1.2.3-beta", "1.2.4", true],
  ["~> 1", "1.9.0", true],
  ["~> 1", "2.0.0", false],
  ["~> 1.2", "1.9.9", true],
  ["~> 1.2", "2.0.0", false],
  ["~> 1.2", "1.1.0", false],
  ["~> 1.2.3", "1.2.9", true],
  ["~> 1.2.3", "1.3.0", false],
  ["~> 0.1", "0.9.0", true],
  ["~> 0.1", "1.0.0", false],
  ["~> 0", "0.5.0", true],
  ["~> 0", "1.0.0", false],
  ["1.2", "1.2.0", true],
  ["1.2", "1.2.1", false],
  ["1", "1.0.0", true],
  ["1", "1.1.0", false],
  ["!= 1.2.0", "1.2.0", false],
  ["!= 1.2.0", "1.2.1", true],
  ["!= 1.2.0-beta", "1.2.0-beta", false],
  ["1.2.0", "1.2.0+local", false],
  ["1.2.0+local", "1.2.0+local", true],
  ["1.2.0+local", "1.2.0", false],
  [">= 1.2.0", "1.2.0+local", true],
  ["> 1.2.0", "1.2.0+local", false],
  ["<= 1.2.0", "1.2.0+x", true],
  ["0.0.0", "0.0.0", false],
  [">= 0.0.0", "0.0.0", false],
  [">= 2.0, < 1.0", "1.5.0", false],
];

Deno.test("meetsConstraints: §5.6 truth table", () => {
  for (const [c, v, want] of TRUTH_TABLE) {
    const got = meetsConstraints(parseVersion(v), parseVersionConstraints(c));
    assert.equal(got, want, `"${c}" vs ${v}`);
  }
});

Deno.test("constraintsString: canonical forms (§5.5)", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["", ""],
    ["~> 3", "~> 3.0"],
    ["~> 3.0.0", "~> 3.0.0"],
    [">= 3", ">= 3.0.0"],
    [">= 3.0, < 4.0", ">= 3.0.0, < 4.0.0"],
    [
      "> 1.0.0, < 1.0.0, >= 1.0.0, <= 1.0.0, != 1.0.0",
      "> 1.0.0, >= 1.0.0, <= 1.0.0, < 1.0.0, != 1.0.0",
    ],
    [">= 1.2.3, 1.2.3, ~> 1.2, 1.2.3", "~> 1.2, >= 1.2.3, 1.2.3"],
    [">= 2.68, >= 2.68.0", ">= 2.68.0"],
    ["~> 1.2, >= 1.2, 1.2.4", ">= 1.2.0, ~> 1.2, 1.2.4"],
    [">= 2, >= 1.2, < 1.3", ">= 1.2.0, < 1.3.0, >= 2.0.0"],
    [
      "< 1.2.3, <= 1.2.3, != 1.2.3, 1.2.3+local.2, 1.2.3+local.1, = 1.2.4, = 1.2.3, > 2, > 1.2.3, >= 1.2.3, ~> 1.2.3, ~> 1.2",
      "~> 1.2, > 1.2.3, >= 1.2.3, 1.2.3, ~> 1.2.3, <= 1.2.3, < 1.2.3, != 1.2.3, 1.2.3+local.1, 1.2.3+local.2, 1.2.4, > 2.0.0",
    ],
    ["1.2", "1.2.0"],
    ["~> 1.0-beta", "~> 1.0-beta"],
    [">=1.0,", ">= 1.0.0"],
    ["  = 1.0.0  ", "1.0.0"],
  ];
  for (const [input, want] of cases) {
    assert.equal(constraintsString(parseVersionConstraints(input)), want, input);
  }
});

Deno.test("parseVersionConstraints: error messages", () => {
  const cases: Array<readonly [string, string]> = [
    [
      "=> 1.0",
      `invalid specification "=> 1.0": invalid constraint operator "=>"; did you mean ">="?`,
    ],
    [
      "=< 1.0",
      `invalid specification "=< 1.0": invalid constraint operator "=<"; did you mean "<="?`,
    ],
    ["^1.0", `invalid specification "^1.0": invalid constraint operator "^"`],
    ["~1.0", `invalid specification "~1.0": invalid constraint operator "~"`],
    ["== 1.0", `invalid specification "== 1.0": invalid constraint operator "=="`],
    ["1.0, , 2.0", `invalid specification ", 2.0": invalid constraint operator ","`],
    [
      "v1.0",
      `invalid specification "v1.0": a "v" prefix should not be used when specifying versions`,
    ],
    [
      ">= v1.0",
      `invalid specification ">= v1.0": a "v" prefix should not be used when specifying versions`,
    ],
    ["1.0 2.0", `missing comma after "1.0"`],
    ["1.0 || 2.0", `missing comma after "1.0"`],
    ["1.0 v2", `a "v" prefix should not be used when specifying versions`],
    [
      ">=  1.0",
      `invalid specification ">=  1.0": only one space is expected after the operator ">="`,
    ],
    [
      "1.*",
      `invalid specification "1.*": can't use wildcard for minor number; omit segments that should be unconstrained`,
    ],
    [
      "1.2.3.4",
      `invalid specification "1.2.3.4": too many numbered portions; only three are allowed (major, minor, patch)`,
    ],
  ];
  cases.push([
    ">= 99999999999999999999",
    `invalid specification ">= 99999999999999999999": major number 99999999999999999999 is too large`,
  ]);
  for (const [input, reason] of cases) {
    assert.throws(() => parseVersionConstraints(input), (e: unknown) => {
      assert.ok(e instanceof InvalidVersionConstraintError, input);
      assert.equal(e.reason, reason, input);
      assert.equal(e.input, input);
      return true;
    });
  }
});

Deno.test("parseVersionConstraints: ~> precision and partial boundaries", () => {
  assert.equal(parseVersionConstraints("~> 1")[0]?.operator, "~>minor");
  assert.equal(parseVersionConstraints("~> 1.2")[0]?.operator, "~>minor");
  assert.equal(parseVersionConstraints("~> 1.2.3")[0]?.operator, "~>patch");
  assert.equal(parseVersionConstraints("~> 1.2.3-beta")[0]?.operator, "~>patch");
  assert.deepEqual(parseVersionConstraints("   "), []);
  assert.equal(parseVersionConstraints(">=1.0,<2").length, 2);
});

Deno.test("newestMatching picks the newest acceptable version", () => {
  const vs = ["1.0.0", "1.2.0", "1.9.9", "2.0.0", "2.0.1-beta", "1.10.0-rc.1"].map(parseVersion);
  const pick = (c: string) => {
    const v = newestMatching(vs, parseVersionConstraints(c));
    return v === undefined ? undefined : versionString(v);
  };
  assert.equal(pick("~> 1.2"), "1.9.9");
  assert.equal(pick(""), "2.0.0");
  assert.equal(pick(">= 2.0.0"), "2.0.0");
  assert.equal(pick("2.0.1-beta"), "2.0.1-beta");
  assert.equal(pick(">= 3"), undefined);
  assert.equal(pick("~> 1.2, < 1.5"), "1.2.0");
  // first of equal precedence wins
  const meta = ["1.0.0+b", "1.0.0+a"].map(parseVersion);
  assert.equal(versionString(newestMatching(meta, []) as Version), "1.0.0+b");
});

/** mulberry32: a small seeded PRNG so the property tests are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pickFrom<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)] as T;
}

function randomVersionText(rand: () => number): string {
  let s = `${pickFrom(rand, [0, 1, 2])}.${pickFrom(rand, [0, 1, 2, 10])}.${
    pickFrom(rand, [0, 1, 3])
  }`;
  if (rand() < 0.3) s += `-${pickFrom(rand, ["alpha", "beta", "alpha.1", "beta.2", "rc.1", "1"])}`;
  if (rand() < 0.15) s += `+${pickFrom(rand, ["x", "local.1"])}`;
  return s;
}

function randomConstraintText(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 3);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const op = pickFrom(rand, ["", "= ", "!= ", "> ", ">= ", "< ", "<= ", "~> "]);
    let v = randomVersionText(rand);
    if (rand() < 0.3) {
      v = v.split(/[-+]/)[0]!.split(".").slice(0, 1 + Math.floor(rand() * 2)).join(".");
    }
    parts.push(op + v);
  }
  return parts.join(", ");
}

Deno.test("property: intersection membership equals membership in every part", () => {
  const rand = prng(20240611);
  for (let round = 0; round < 400; round++) {
    const a = parseVersionConstraints(randomConstraintText(rand));
    const b = parseVersionConstraints(randomConstraintText(rand));
    const both: VersionConstraint[] = intersectConstraints(a, b);
    // canonicalising the merged set must not change its meaning
    const canon = parseVersionConstraints(constraintsString(both));
    for (let k = 0; k < 20; k++) {
      const v = parseVersion(randomVersionText(rand));
      const raw = allowedByConstraints(v, both);
      assert.equal(raw, allowedByConstraints(v, a) && allowedByConstraints(v, b));
      assert.equal(allowedByConstraints(v, canon), raw);
      assert.equal(meetsConstraints(v, canon), meetsConstraints(v, both));
      if (v.prerelease === "") {
        assert.equal(meetsConstraints(v, both), meetsConstraints(v, a) && meetsConstraints(v, b));
      } else if (meetsConstraints(v, both)) {
        // a prerelease passes only when some part names it exactly
        assert.ok(meetsConstraints(v, a) || meetsConstraints(v, b));
      }
    }
  }
});

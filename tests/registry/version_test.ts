import assert from "node:assert/strict";
import {
  compareVersionExtra,
  compareVersions,
  InvalidVersionError,
  newestVersion,
  parseVersion,
  sortVersions,
  tryParseVersion,
  type Version,
  versionEquals,
  versionSame,
  versionString,
} from "../../src/registry/version.ts";

Deno.test("parseVersion: lenient forms normalise", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["1", "1.0.0"],
    ["1.0", "1.0.0"],
    ["1.2.3", "1.2.3"],
    ["01.0.0", "1.0.0"],
    ["1.02", "1.2.0"],
    ["1.0.0-beta.1", "1.0.0-beta.1"],
    ["1.0.0-beta..1", "1.0.0-beta..1"],
    ["1.0.0+build.5", "1.0.0+build.5"],
    ["1.0.0-rc.1+build-x", "1.0.0-rc.1+build-x"],
    ["1.0.0-", "1.0.0"],
    ["1.0.0+", "1.0.0"],
    ["1-beta", "1.0.0-beta"],
  ];
  for (const [input, want] of cases) assert.equal(versionString(parseVersion(input)), want, input);
  assert.deepEqual(parseVersion("4.5.6-a+b"), {
    major: 4,
    minor: 5,
    patch: 6,
    prerelease: "a",
    metadata: "b",
  });
});

Deno.test("parseVersion: error reasons (go-versions wording)", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["", "empty specification"],
    ["  ", "empty specification"],
    ["v1.0.0", `a "v" prefix should not be used`],
    [" 1.0.0", "extraneous spaces at start of specification"],
    ["1.0.0 ", "extraneous spaces at end of specification"],
    [">= 1.0.0", `can't use constraint operator ">="; an exact version is required`],
    ["~> 1.0", `can't use constraint operator "~>"; an exact version is required`],
    ["=> 1.0", `invalid sequence "=>" at start of specification`],
    ["1.0.0, 2.0.0", "can't specify multiple versions; a single exact version is required"],
    ["1.0.0 | 2.0.0", "can't specify multiple versions; a single exact version is required"],
    ["1.0.0 - 2.0.0", "can't specify version range; a single exact version is required"],
    [
      "foo",
      "invalid specification; required format is three positive integers separated by periods",
    ],
    ["1.0.0_1", `invalid characters "_1"`],
    ["1.a", `invalid characters "a"`],
    ["1.2.3.4", "too many numbered portions; only three are allowed (major, minor, patch)"],
    ["1.*", "can't use wildcard for minor number; an exact version is required"],
    ["1.x.0", "can't use wildcard for minor number; an exact version is required"],
    ["X", "can't use wildcard for major number; an exact version is required"],
  ];
  for (const [input, reason] of cases) {
    assert.throws(() => parseVersion(input), (e: unknown) => {
      assert.ok(e instanceof InvalidVersionError, input);
      assert.equal(e.reason, reason, JSON.stringify(input));
      assert.equal(e.message, `Invalid version "${input}": ${reason}`);
      return true;
    });
  }
  assert.equal(tryParseVersion("nope"), undefined);
});

Deno.test("compareVersions: verified go-versions sort order", () => {
  const input = [
    "1.0.0-beta.11",
    "1.0.0-alpha.beta",
    "1.0.0",
    "1.0.0-rc.1",
    "1.0.0+zzz",
    "1.0.0-alpha",
    "1.0.0-a.b.c",
    "0.9.9",
    "1.0.0-beta",
    "1.0.0-alpha.1",
    "1.0.0+aaa",
    "1.0.0-beta.2",
    "1.0.0-1",
  ];
  // metadata-only differences keep input order (stable sort)
  const sorted = sortVersions(input.map(parseVersion)).map(versionString);
  assert.deepEqual(sorted, [
    "0.9.9",
    "1.0.0-1",
    "1.0.0-alpha",
    "1.0.0-beta",
    "1.0.0-a.b.c",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.0+zzz",
    "1.0.0+aaa",
  ]);
});

Deno.test("compareVersionExtra quirks", () => {
  assert.equal(compareVersionExtra("beta", "alpha.1"), -1);
  assert.equal(compareVersionExtra("z", "a.a"), -1);
  assert.equal(compareVersionExtra("alpha", "alpha.1"), -1);
  assert.equal(compareVersionExtra("beta.2", "beta.11"), -1);
  assert.equal(compareVersionExtra("1", "a"), -1);
  assert.equal(compareVersionExtra("", "a"), -1);
  assert.equal(compareVersionExtra("x.y", "x.y"), 0);
});

Deno.test("equality: Same ignores metadata, equals does not", () => {
  const a = parseVersion("1.2.3+a");
  const b = parseVersion("1.2.3+b");
  assert.ok(versionSame(a, b));
  assert.ok(!versionEquals(a, b));
  assert.equal(compareVersions(a, b), 0);
  assert.equal(
    versionString(newestVersion([a, b, parseVersion("1.2.3-rc.1")]) as Version),
    "1.2.3+a",
  );
  assert.equal(newestVersion([]), undefined);
});

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

Deno.test("property: compareVersions is a total preorder (antisymmetric, transitive)", () => {
  const rand = prng(42);
  const idents = ["1", "2", "11", "01", "a", "b", "alpha", "beta", "rc", "", "a-b"];
  const gen = (): Version => {
    const n = Math.floor(rand() * 4);
    const pre = Array.from({ length: n }, () => idents[Math.floor(rand() * idents.length)]!)
      .join(".");
    const meta = rand() < 0.2 ? "m" + Math.floor(rand() * 3) : "";
    return {
      major: Math.floor(rand() * 2),
      minor: Math.floor(rand() * 3),
      patch: Math.floor(rand() * 2),
      prerelease: pre,
      metadata: meta,
    };
  };
  const vs = Array.from({ length: 120 }, gen);
  for (const a of vs) {
    assert.equal(compareVersions(a, a), 0);
    for (const b of vs) {
      const ab = Math.sign(compareVersions(a, b));
      const ba = Math.sign(compareVersions(b, a));
      assert.ok(ab === -ba, `antisymmetry: ${versionString(a)} ${versionString(b)}`);
      assert.equal(ab === 0, versionSame(a, b));
      for (const c of vs.slice(0, 40)) {
        if (ab <= 0 && compareVersions(b, c) <= 0) {
          assert.ok(compareVersions(a, c) <= 0, "transitivity");
        }
      }
    }
  }
  // round trip through the canonical string
  for (const v of vs) assert.deepEqual(parseVersion(versionString(v)), v);
});

Deno.test("parseVersion: numbers beyond 2^53 are rejected, not rounded", () => {
  assert.throws(
    () => parseVersion("1.99999999999999999999.0"),
    (e: unknown) =>
      e instanceof InvalidVersionError &&
      e.reason === "minor number 99999999999999999999 is too large",
  );
});

import assert from "node:assert/strict";
import {
  comparePlatforms,
  currentPlatform,
  InvalidPlatformError,
  parsePlatform,
  platformEquals,
  platformFromDenoBuild,
  platformString,
} from "../../src/registry/platform.ts";

Deno.test("parsePlatform accepts os_arch as given", () => {
  assert.deepEqual(parsePlatform("linux_amd64"), { os: "linux", arch: "amd64" });
  assert.deepEqual(parsePlatform("Darwin_ARM64"), { os: "Darwin", arch: "ARM64" });
  assert.deepEqual(parsePlatform("_"), { os: "", arch: "" });
  assert.equal(platformString({ os: "windows", arch: "386" }), "windows_386");
});

Deno.test("parsePlatform errors", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["linux", "must be two words separated by an underscore"],
    ["linux_amd64_v2", "must be two words separated by an underscore"],
    ["li nux_amd64", "OS portion must not contain whitespace"],
    ["linux_amd 64", "architecture portion must not contain whitespace"],
  ];
  for (const [input, reason] of cases) {
    assert.throws(() => parsePlatform(input), (e: unknown) => {
      assert.ok(e instanceof InvalidPlatformError);
      assert.equal(e.message, `Invalid platform "${input}": ${reason}`);
      return true;
    });
  }
});

Deno.test("platform mapping from Deno.build and ordering", () => {
  assert.deepEqual(platformFromDenoBuild({ os: "linux", arch: "x86_64" }), {
    os: "linux",
    arch: "amd64",
  });
  assert.deepEqual(platformFromDenoBuild({ os: "darwin", arch: "aarch64" }), {
    os: "darwin",
    arch: "arm64",
  });
  assert.deepEqual(platformFromDenoBuild({ os: "windows", arch: "x86_64" }), {
    os: "windows",
    arch: "amd64",
  });
  const cur = currentPlatform();
  assert.ok(["amd64", "arm64"].includes(cur.arch));
  assert.equal(cur.os, Deno.build.os);
  assert.ok(platformEquals(cur, { ...cur }));
  const sorted = ["windows_amd64", "darwin_arm64", "darwin_amd64", "linux_arm64"].map(
    parsePlatform,
  ).sort(comparePlatforms).map(platformString);
  assert.deepEqual(sorted, ["darwin_amd64", "darwin_arm64", "linux_arm64", "windows_amd64"]);
});

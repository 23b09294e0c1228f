import assert from "node:assert/strict";
import {
  InvalidHashError,
  isPreferredHash,
  isWellFormedHash,
  mergeHashes,
  normalizeHashes,
  parseHash,
  preferredHashes,
} from "../../src/lock/hash_string.ts";

Deno.test("parseHash: scheme and value, unknown schemes kept", () => {
  assert.deepEqual(parseHash("h1:abc="), { scheme: "h1:", value: "abc=" });
  assert.deepEqual(parseHash("zh:00ff"), { scheme: "zh:", value: "00ff" });
  assert.deepEqual(parseHash("test:foo"), { scheme: "test:", value: "foo" });
  assert.deepEqual(parseHash("unknown:"), { scheme: "unknown:", value: "" });
  assert.deepEqual(parseHash("a:b:c"), { scheme: "a:", value: "b:c" });
  for (const bad of ["", ":abc", "nocolon"]) {
    assert.throws(() => parseHash(bad), (e: unknown) => {
      assert.ok(e instanceof InvalidHashError);
      assert.equal(e.message, "hash string must start with a scheme keyword followed by a colon");
      assert.equal(e.input, bad);
      return true;
    });
  }
});

Deno.test("hash helpers: preference, well-formedness, ordering", () => {
  assert.ok(isPreferredHash("h1:x") && isPreferredHash("zh:x") && !isPreferredHash("h0:x"));
  assert.deepEqual(preferredHashes(["zh:1", "test:2", "h1:3"]), ["zh:1", "h1:3"]);
  assert.ok(isWellFormedHash("h1:qjsREM4DqEWECD43FcPqddZ9oxCG+IaMTxvWPciS05g="));
  assert.ok(
    isWellFormedHash("zh:299dd806df78cb0537e5c111019eaca6e6b7797e1b63cb37cc6a76f91c6c0782"),
  );
  assert.ok(!isWellFormedHash("zh:299DD806"));
  assert.ok(!isWellFormedHash("h1:short="));
  assert.ok(isWellFormedHash("test:anything"));
  assert.ok(!isWellFormedHash("nocolon"));
  assert.deepEqual(normalizeHashes(["zh:b", "h1:Z", "h1:a", "zh:b"]), ["h1:Z", "h1:a", "zh:b"]);
  assert.deepEqual(mergeHashes(["zh:1"], ["h1:2", "zh:1"]), ["h1:2", "zh:1"]);
});

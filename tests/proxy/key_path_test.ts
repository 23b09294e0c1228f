import assert from "node:assert/strict";
import {
  decodeKeyPath,
  encodeKeyPath,
  fromDiskPath,
  toDiskPath,
} from "../../src/proxy/_key_path.ts";

Deno.test("key path: `%` then `:` are encoded, `/` and everything else left alone", () => {
  assert.equal(
    encodeKeyPath("providers/127.0.0.1:8443/acme/thing/index.json"),
    "providers/127.0.0.1%3A8443/acme/thing/index.json",
  );
  assert.equal(encodeKeyPath("a/100%/b:c%3A"), "a/100%25/b%3Ac%253A");
  assert.equal(encodeKeyPath("plain/key.json"), "plain/key.json");
});

Deno.test("key path: decoding inverts encoding and refuses names no key encodes to", () => {
  for (const key of ["a/100%/b:c%3A", "x:1/%25/%3a:", "plain/key.json", "%", ":"]) {
    assert.equal(decodeKeyPath(encodeKeyPath(key)), key);
  }
  assert.equal(decodeKeyPath("a:b"), undefined, "a raw colon is never produced");
  assert.equal(decodeKeyPath("50%off"), undefined, "a bare % is never produced");
  assert.equal(decodeKeyPath("host%3a8443"), undefined, "only the upper-case form is produced");
});

Deno.test("key path: toDiskPath/fromDiskPath are the identity when not encoding", () => {
  assert.equal(toDiskPath("a/b:c%", false), "a/b:c%");
  assert.equal(fromDiskPath("a/b:c%", false), "a/b:c%");
  assert.equal(toDiskPath("a/b:c%", true), "a/b%3Ac%25");
  assert.equal(fromDiskPath("a/b%3Ac%25", true), "a/b:c%");
});

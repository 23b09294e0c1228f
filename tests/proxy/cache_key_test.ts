import assert from "node:assert/strict";
import {
  decodeRequestPath,
  isReservedName,
  isValidKey,
  validateKey,
} from "../../src/proxy/cache_key.ts";
import { HttpError, InvalidKeyError } from "../../src/proxy/errors.ts";

Deno.test("validateKey accepts ordinary relative keys", () => {
  for (
    const key of [
      "providers/registry.terraform.io/hashicorp/aws/index.json",
      "providers/registry.terraform.io/hashicorp/aws/terraform-provider-aws_5.0.0_linux_amd64.zip",
      "modules/_source/0123456789abcdef.tar.gz",
      "a",
      "a/b c/ünïcode",
    ]
  ) {
    assert.equal(validateKey(key), key);
  }
});

Deno.test("validateKey refuses keys that could leave the root or collide with store files", () => {
  const bad = [
    "",
    "/etc/passwd",
    "../x",
    "a/../../x",
    "a/./b",
    ".",
    "a//b",
    "a/",
    "a\\b",
    "a\u0000b",
    "a\nb",
    "a\u007fb",
    "C:/windows",
    "c:x",
    "a/b.metadata.json",
    "a/b.lock",
    "a/.tmp-123",
    ".tmp-x/y",
    "x".repeat(1025),
    `a/${"y".repeat(256)}`,
  ];
  for (const key of bad) {
    assert.throws(() => validateKey(key), InvalidKeyError, JSON.stringify(key));
    assert.equal(isValidKey(key), false);
  }
  assert.throws(() => validateKey("../etc"), /Cannot use cache key "..\/etc": ".." segment/);
});

Deno.test("isReservedName spots sidecars, locks and temps", () => {
  assert.equal(isReservedName("x.zip.metadata.json"), true);
  assert.equal(isReservedName("x.zip.lock"), true);
  assert.equal(isReservedName(".tmp-abc"), true);
  assert.equal(isReservedName("x.zip"), false);
});

Deno.test("decodeRequestPath decodes safe paths", () => {
  assert.equal(decodeRequestPath(""), "");
  assert.equal(decodeRequestPath("providers/a%20b/index.json"), "providers/a b/index.json");
  assert.equal(decodeRequestPath("modules/"), "modules/");
  assert.equal(decodeRequestPath("v1/x%40y"), "v1/x@y");
});

Deno.test("decodeRequestPath refuses hostile paths with 400", () => {
  const bad = [
    "../etc/passwd",
    "a/%2e%2e/b",
    "a/%2E%2E/b",
    "a/%2e/b",
    "a%2fb",
    "a%2Fb",
    "a%5cb",
    "a\\b",
    "a%00b",
    "/etc/passwd",
    "a//b",
    "a/%zz",
    "C:/x",
    "x".repeat(5000),
  ];
  for (const raw of bad) {
    assert.throws(
      () => decodeRequestPath(raw),
      (error: unknown) =>
        error instanceof HttpError && error.status === 400 &&
        error.message.startsWith("Cannot accept request path"),
      raw,
    );
  }
});

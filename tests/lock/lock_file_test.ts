import assert from "node:assert/strict";
import {
  containsAllHashes,
  LockFile,
  providerIsLockable,
  ProviderNotLockableError,
} from "../../src/lock/lock_file.ts";
import { parseProviderSource } from "../../src/registry/provider_address.ts";
import { parseVersion, versionString } from "../../src/registry/version.ts";

const aws = parseProviderSource("hashicorp/aws");
const nul = parseProviderSource("hashicorp/null");

Deno.test("LockFile: set, get, sorted access, remove", () => {
  const lock = new LockFile();
  assert.ok(lock.isEmpty());
  lock.setProvider(nul, parseVersion("3.2.0"), undefined, ["zh:b", "h1:a", "zh:b"]);
  lock.setProvider(aws, parseVersion("5.0.0"), ">= 5.0.0");
  assert.equal(lock.size, 2);
  assert.deepEqual(lock.allProviders().map((p) => p.address.type), ["aws", "null"]);
  assert.deepEqual(lock.provider(nul)?.hashes, ["h1:a", "zh:b"]);
  assert.equal(lock.provider(aws)?.constraints, ">= 5.0.0");
  assert.equal(lock.provider(parseProviderSource("hashicorp/google")), undefined);
  assert.ok(lock.removeProvider(aws));
  assert.ok(!lock.removeProvider(aws));
  assert.equal(lock.size, 1);
});

Deno.test("LockFile: built-in and legacy providers cannot be locked", () => {
  const lock = new LockFile();
  for (const s of ["terraform.io/builtin/terraform", "-/aws"]) {
    const addr = parseProviderSource(s);
    assert.ok(!providerIsLockable(addr));
    assert.throws(() => lock.setProvider(addr, parseVersion("1.0.0")), ProviderNotLockableError);
  }
});

Deno.test("LockFile: adding and merging hashes", () => {
  const lock = new LockFile();
  lock.setProvider(aws, parseVersion("5.0.0"), "~> 5.0", ["zh:2", "h1:1"]);
  lock.addHashes(aws, ["h1:0", "zh:2", "zh:9"]);
  assert.deepEqual(lock.provider(aws)?.hashes, ["h1:0", "h1:1", "zh:2", "zh:9"]);
  assert.throws(() => lock.addHashes(nul, ["h1:x"]), RangeError);

  const other = new LockFile();
  other.setProvider(aws, parseVersion("5.0.0"), undefined, ["h1:new"]);
  other.setProvider(nul, parseVersion("3.0.0"), undefined, ["h1:n"]);
  const merged = lock.clone();
  merged.merge(other);
  assert.deepEqual(merged.provider(aws)?.hashes, ["h1:0", "h1:1", "h1:new", "zh:2", "zh:9"]);
  assert.equal(merged.provider(aws)?.constraints, "~> 5.0", "kept when the other has none");
  assert.deepEqual(merged.provider(nul)?.hashes, ["h1:n"]);
  assert.equal(lock.size, 1, "clone is independent");

  const upgrade = new LockFile();
  upgrade.setProvider(aws, parseVersion("5.1.0"), ">= 5.1.0", ["h1:other"]);
  merged.merge(upgrade);
  assert.equal(versionString(merged.provider(aws)!.version), "5.1.0");
  assert.deepEqual(merged.provider(aws)?.hashes, ["h1:other"], "a new version replaces hashes");
  assert.deepEqual(merged.preferredHashes(aws), ["h1:other"]);
});

Deno.test("LockFile: equality ignores constraints but not metadata or hashes", () => {
  const a = new LockFile();
  const b = new LockFile();
  a.setProvider(aws, parseVersion("1.0.0"), ">= 1.0.0", ["h1:x"]);
  b.setProvider(aws, parseVersion("1.0.0"), undefined, ["h1:x"]);
  assert.ok(a.equals(b));
  b.setProvider(aws, parseVersion("1.0.0+meta"), undefined, ["h1:x"]);
  assert.ok(!a.equals(b));
  b.setProvider(aws, parseVersion("1.0.0"), undefined, ["h1:y"]);
  assert.ok(!a.equals(b));
  b.setProvider(aws, parseVersion("1.0.0"), undefined, ["h1:x"]);
  b.setProvider(nul, parseVersion("1.0.0"));
  assert.ok(!a.equals(b));
});

Deno.test("containsAllHashes", () => {
  assert.ok(containsAllHashes(["h1:a", "zh:b"], []));
  assert.ok(containsAllHashes(["h1:a", "zh:b"], ["zh:b"]));
  assert.ok(!containsAllHashes([], ["zh:b"]));
  assert.ok(!containsAllHashes(["h1:a"], ["h1:a", "zh:c"]));
});

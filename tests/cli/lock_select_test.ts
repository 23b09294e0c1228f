/**
 * Unit tests of the pure parts of `tfcache lock`: version selection, lock merging, argument
 * parsing and the progress renderer.
 */

import assert from "node:assert/strict";
import type { ProviderConstraintSource } from "../../src/config/config_requirements.ts";
import { LockFile } from "../../src/lock/lock_file.ts";
import { parseProviderSource } from "../../src/registry/provider_address.ts";
import { parseVersion, versionString } from "../../src/registry/version.ts";
import { UsageError } from "../../src/cli/cli_error.ts";
import { parseLockArgs } from "../../src/cli/lock_args.ts";
import { LockedVersionMismatchError, NoMatchingVersionError } from "../../src/cli/lock_errors.ts";
import { mergeLockUpdates } from "../../src/cli/lock_merge.ts";
import { formatBytes, LockProgress } from "../../src/cli/lock_progress.ts";
import { selectProviderVersion } from "../../src/cli/lock_select.ts";

const P = "registry.terraform.io/hashicorp/null";

function src(constraints: string, from = "main.tf:3", module = ""): ProviderConstraintSource {
  return { constraints, from, module };
}

function pick(
  sources: ProviderConstraintSource[],
  available: string[],
  locked?: string,
  upgrade = false,
): string {
  const s = selectProviderVersion({
    provider: P,
    sources,
    available,
    locked: locked === undefined ? undefined : parseVersion(locked),
    upgrade,
  });
  return versionString(s.version);
}

Deno.test("selectProviderVersion: newest version meeting every module's constraints", () => {
  const available = ["1.0.0", "1.2.0", "1.9.1", "2.0.0", "2.1.0-beta1"];
  assert.equal(pick([src("")], available), "2.0.0");
  assert.equal(pick([src("~> 1.0")], available), "1.9.1");
  assert.equal(
    pick([src("~> 1.0"), src("< 1.5", "modules/a/main.tf:2", "module.a")], available),
    "1.2.0",
  );
  assert.equal(pick([src(">= 2.0")], available), "2.0.0", "prereleases are skipped");
  assert.equal(pick([src("2.1.0-beta1")], available), "2.1.0-beta1", "unless named exactly");
  assert.equal(pick([src("~> 1.0")], ["not-a-version", "1.0.0"]), "1.0.0");
});

Deno.test("selectProviderVersion: keeps the locked version unless upgrading", () => {
  const available = ["1.0.0", "1.1.0"];
  const kept = selectProviderVersion({
    provider: P,
    sources: [src("~> 1.0")],
    available,
    locked: parseVersion("1.0.0"),
    upgrade: false,
  });
  assert.equal(versionString(kept.version), "1.0.0");
  assert.equal(kept.keptLocked, true);
  assert.equal(kept.constraints, "~> 1.0");
  assert.equal(pick([src("~> 1.0")], available, "1.0.0", true), "1.1.0");
});

Deno.test("selectProviderVersion: a locked version outside the constraints is an error", () => {
  assert.throws(
    () => pick([src(">= 1.1.0", "versions.tf:7")], ["1.0.0", "1.1.0"], "1.0.0"),
    (error: unknown) => {
      assert.ok(error instanceof LockedVersionMismatchError);
      assert.match(error.message, /1\.0\.0 does not match .*">= 1\.1\.0"/);
      assert.match(error.message, /versions\.tf:7/);
      assert.match(error.message, /--upgrade/);
      return true;
    },
  );
});

Deno.test("selectProviderVersion: conflicting constraints name every place they come from", () => {
  assert.throws(
    () =>
      pick(
        [src("~> 1.0", "main.tf:5"), src(">= 2.0", "modules/net/versions.tf:3", "module.net")],
        ["1.0.0", "2.0.0"],
      ),
    (error: unknown) => {
      assert.ok(error instanceof NoMatchingVersionError);
      assert.match(error.message, /"~> 1\.0" from main\.tf:5 \(root module\)/);
      assert.match(error.message, /">= 2\.0" from modules\/net\/versions\.tf:3 \(module\.net\)/);
      assert.match(error.message, /~> 1\.0, >= 2\.0\.0/);
      assert.match(error.message, /Available versions: 1\.0\.0, 2\.0\.0/);
      return true;
    },
  );
});

Deno.test("mergeLockUpdates: same version keeps old hashes, a new version replaces them", () => {
  const a = parseProviderSource("example.com/ns/a");
  const b = parseProviderSource("example.com/ns/b");
  const other = parseProviderSource("example.com/ns/other");
  const old = new LockFile();
  old.setProvider(a, parseVersion("1.0.0"), "~> 1.0", ["h1:old-darwin", "zh:1"]);
  old.setProvider(b, parseVersion("1.0.0"), "", ["h1:old-b"]);
  old.setProvider(other, parseVersion("3.0.0"), "", ["h1:untouched"]);
  const { lock, changes } = mergeLockUpdates(old, [
    {
      address: a,
      version: parseVersion("1.0.0"),
      constraints: "~> 1.0",
      hashes: ["h1:new-linux", "zh:1", "zh:2"],
    },
    { address: b, version: parseVersion("2.0.0"), constraints: ">= 2.0.0", hashes: ["h1:new-b"] },
  ]);
  assert.deepEqual(lock.provider(a)?.hashes, ["h1:new-linux", "h1:old-darwin", "zh:1", "zh:2"]);
  assert.deepEqual(lock.provider(b)?.hashes, ["h1:new-b"]);
  assert.equal(lock.provider(b)?.constraints, ">= 2.0.0");
  assert.deepEqual(lock.provider(other)?.hashes, ["h1:untouched"]);
  assert.deepEqual(changes[0]?.addedHashes, ["h1:new-linux", "zh:2"]);
  assert.equal(changes[0]?.versionChanged, false);
  assert.equal(changes[1]?.versionChanged, true);
  assert.equal(old.provider(a)?.hashes.length, 2, "the input is not modified");
});

Deno.test("parseLockArgs: directory, repeatable platforms and providers, defaults", () => {
  const args = parseLockArgs([
    "infra",
    "--platform",
    "linux_amd64",
    "--platform=darwin_arm64",
    "--platform",
    "linux_amd64",
    "--provider",
    "hashicorp/aws",
    "--upgrade",
    "--cache-dir",
    "/c",
  ]);
  assert.equal(args.dir, "infra");
  assert.deepEqual(args.platforms, [{ os: "linux", arch: "amd64" }, {
    os: "darwin",
    arch: "arm64",
  }]);
  assert.deepEqual(args.providers, ["hashicorp/aws"]);
  assert.equal(args.upgrade, true);
  assert.equal(args.cacheDir, "/c");
  assert.equal(args.parallelism, 4);
  const defaults = parseLockArgs([]);
  assert.equal(defaults.dir, ".");
  assert.deepEqual(defaults.platforms, []);
  assert.equal(defaults.upgrade, false);
  assert.throws(() => parseLockArgs(["--platform", "linux"]), UsageError);
  assert.throws(() => parseLockArgs(["--platform", "Linux_AMD64"]), UsageError);
  assert.throws(() => parseLockArgs(["a", "b"]), UsageError);
  assert.throws(() => parseLockArgs(["--bogus"]), UsageError);
  assert.throws(() => parseLockArgs(["--parallel", "0"]), UsageError);
});

Deno.test("LockProgress: plain lines without a terminal, throttled status line on one", () => {
  const plain: string[] = [];
  const p = new LockProgress({ write: (t) => plain.push(t), tty: false });
  p.start("x", "alpha linux_amd64");
  p.progress("x", 10, 100);
  p.finish("x", "- alpha: downloaded (100 B)");
  p.close();
  assert.deepEqual(plain, ["- alpha: downloaded (100 B)\n"]);

  let now = 0;
  const tty: string[] = [];
  const t = new LockProgress({ write: (s) => tty.push(s), tty: true, now: () => now });
  t.start("x", "alpha linux_amd64");
  const afterStart = tty.length;
  t.progress("x", 10, 100); // within 100 ms of the last draw: skipped
  assert.equal(tty.length, afterStart);
  now = 150;
  t.progress("x", 50, 100);
  assert.equal(tty.at(-1), "\r\x1b[K  fetching [0/1 done, 50 B] alpha linux_amd64 50%");
  t.finish("x", "- done");
  assert.deepEqual(tty.slice(-2), ["\r\x1b[K", "- done\n"], "status cleared, line printed");
  t.close();
  assert.equal(formatBytes(12_345_678), "12.3 MB");
  assert.equal(formatBytes(999), "999 B");
});

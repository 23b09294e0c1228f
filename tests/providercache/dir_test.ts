import assert from "node:assert/strict";
import { join } from "node:path";
import { Dir } from "../../src/providercache/dir.ts";
import { CachedProvider } from "../../src/providercache/cached_provider.ts";
import {
  ExecutableNotFoundError,
  PackageHashMismatchError,
  ProviderInstallError,
} from "../../src/providercache/errors.ts";
import { searchLocalDirectory } from "../../src/providercache/search_local_directory.ts";
import { packageHashV1FromZip } from "../../src/registry/hashes.ts";
import { parseProviderSource } from "../../src/registry/provider_address.ts";
import { parseVersion, versionString } from "../../src/registry/version.ts";
import {
  BEEP_DIR,
  BEEP_H1,
  buildCacheDir,
  listTree,
  NULL_DIR,
  NULL_H1,
  NULL_ZIP,
  NULL_ZIP_ZH,
  put,
  tempDir,
} from "./_support/fixtures.ts";
import { NO_UNIX_MODES, SYMLINKS_UNSUPPORTED } from "../support/os_guards.ts";

const NULL = parseProviderSource("hashicorp/null");
const RANDOM = parseProviderSource("hashicorp/random");
const V2 = parseVersion("2.0.0");
const LINUX = { os: "linux", arch: "amd64" };
const WINDOWS = { os: "windows", arch: "amd64" };

Deno.test("CachedProvider hashes match the dirhash fixtures (h1 of dir == h1 of zip)", async () => {
  const cp = new CachedProvider(NULL, V2, NULL_DIR);
  assert.equal(await cp.hash(), NULL_H1);
  assert.equal(await cp.hashV1(), NULL_H1);
  assert.equal(await packageHashV1FromZip(NULL_ZIP), NULL_H1);
  assert.equal(await cp.matchesHash(NULL_H1), true);
  assert.equal(await cp.matchesAnyHash(["zh:abc", "unknown:x", NULL_H1]), true);
  assert.equal(await cp.matchesAnyHash([NULL_ZIP_ZH]), false, "zh never matches a directory");
  assert.equal(await cp.matchesAnyHash([]), false);
  await assert.rejects(() => cp.matchesHash(NULL_ZIP_ZH), /ziphash scheme/);
  const beep = new CachedProvider(parseProviderSource("example.com/foo/beep"), V2, BEEP_DIR);
  assert.equal(await beep.hash(), BEEP_H1);
});

Deno.test("CachedProvider windows .exe package does not match the darwin hash", async () => {
  await using tmp = await tempDir();
  await buildCacheDir(tmp.path);
  const dir = new Dir(tmp.path, { platform: WINDOWS });
  const cp = await dir.providerVersion(NULL, V2);
  assert.ok(cp);
  assert.equal(await cp.matchesHash(NULL_H1), false);
  assert.equal(await cp.hash(), "h1:kGhswZiaZEZCbem7JPB+GCzba57SfLtNV20LNIBP1CU=");
});

Deno.test("CachedProvider.executableFile follows terraform's naming heuristics", async (t) => {
  await using tmp = await tempDir();
  await buildCacheDir(tmp.path);
  const base = join(tmp.path, "registry.terraform.io");
  await t.step("linux", async () => {
    const cp = new CachedProvider(NULL, V2, join(base, "hashicorp/null/2.0.0/linux_amd64"));
    assert.equal(
      await cp.executableFile(),
      join(base, "hashicorp/null/2.0.0/linux_amd64/terraform-provider-null"),
    );
  });
  await t.step("windows", async () => {
    const cp = new CachedProvider(NULL, V2, join(base, "hashicorp/null/2.0.0/windows_amd64"));
    assert.match(await cp.executableFile(), /terraform-provider-null\.exe$/);
  });
  await t.step("versioned name accepted, suffixed type rejected", async () => {
    const d = join(tmp.path, "x");
    await put(join(d, "terraform-provider-nullx"), "no");
    await put(join(d, "terraform-provider-null_v5.1.0_x5"), "yes");
    const cp = new CachedProvider(NULL, V2, d);
    assert.match(await cp.executableFile(), /terraform-provider-null_v5\.1\.0_x5$/);
  });
  await t.step("directory with the right name is skipped", async () => {
    const d = join(tmp.path, "y");
    await Deno.mkdir(join(d, "terraform-provider-null"), { recursive: true });
    const cp = new CachedProvider(NULL, V2, d);
    await assert.rejects(() => cp.executableFile(), ExecutableNotFoundError);
  });
  await t.step("missing-executable", async () => {
    const cp = new CachedProvider(
      parseProviderSource("missing/executable"),
      V2,
      join(base, "missing/executable/2.0.0/linux_amd64"),
    );
    await assert.rejects(
      () => cp.executableFile(),
      (e: Error) =>
        e instanceof ExecutableNotFoundError &&
        e.message === "could not find executable file starting with terraform-provider-executable",
    );
  });
  await t.step("missing-dir", async () => {
    const cp = new CachedProvider(NULL, V2, join(tmp.path, "nope"));
    await assert.rejects(
      () => cp.executableFile(),
      /^ExecutableNotFoundError: could not read package directory: /,
    );
  });
});

Deno.test("Dir reading: ProviderLatestVersion / ProviderVersion / AllAvailablePackages", async (t) => {
  await using tmp = await tempDir();
  await buildCacheDir(tmp.path);
  const win = new Dir(tmp.path, { platform: WINDOWS });
  const linux = new Dir(tmp.path, { platform: LINUX });
  await t.step("ProviderLatestVersion exists (packed 2.1.0 ignored)", async () => {
    const got = await win.providerLatestVersion(NULL);
    assert.ok(got);
    assert.equal(versionString(got.version), "2.0.0");
    assert.match(got.packageDir, /null\/2\.0\.0\/windows_amd64$/);
  });
  await t.step("no package for current platform", async () => {
    assert.equal(await win.providerLatestVersion(RANDOM), undefined);
    assert.equal(await win.providerVersion(RANDOM, parseVersion("1.2.0")), undefined);
  });
  await t.step("no versions available at all", async () => {
    const none = parseProviderSource("hashicorp/nonexist");
    assert.equal(await win.providerLatestVersion(none), undefined);
    assert.equal(await win.providerVersion(none, V2), undefined);
  });
  await t.step("ProviderVersion exists / not cached", async () => {
    assert.ok(await win.providerVersion(NULL, V2));
    assert.equal(await win.providerVersion(NULL, parseVersion("2.1.0")), undefined);
  });
  await t.step("AllAvailablePackages on linux_amd64 ignores junk and other platforms", async () => {
    const all = await linux.allAvailablePackages();
    const summary = [...all.entries()].map(([k, v]) =>
      `${k} ${v.map((c) => versionString(c.version))}`
    )
      .sort();
    assert.deepEqual(summary, [
      "registry.terraform.io/-/legacy 1.0.0",
      "registry.terraform.io/hashicorp/null 2.0.0",
      "registry.terraform.io/hashicorp/random 1.2.0",
      "registry.terraform.io/hashicorp/random-beta 1.2.0",
      "registry.terraform.io/missing/executable 2.0.0",
    ]);
  });
  await t.step("missing base directory gives an empty map", async () => {
    const d = new Dir(join(tmp.path, "absent"), { platform: LINUX });
    assert.equal((await d.allAvailablePackages()).size, 0);
  });
});

Deno.test("searchLocalDirectory: packed and unpacked layouts, invalid names ignored, mixed case", async () => {
  await using tmp = await tempDir();
  await buildCacheDir(tmp.path);
  const warnings: string[] = [];
  const found = await searchLocalDirectory(tmp.path, { warn: (w) => warnings.push(w) });
  const nulls = found.get("registry.terraform.io/hashicorp/null")!;
  assert.deepEqual(
    nulls.map((p) => `${p.location.kind} ${versionString(p.version)} ${p.targetPlatform.os}`),
    ["dir 2.0.0 darwin", "dir 2.0.0 linux", "archive 2.1.0 linux", "dir 2.0.0 windows"],
  );
  const happy = found.get("opentf.example.com/awesomecorp/happycloud")!;
  assert.equal(versionString(happy[0]!.version), "0.1.0-alpha.2");
  assert.equal(found.has("example.com/-/bar"), false, "legacy namespace only on the default host");
  assert.ok(warnings.some((w) => w.includes("terraform-provider-null_invalid.zip")));
  await assert.rejects(() => searchLocalDirectory(join(tmp.path, "absent")), /cannot search/);
});

// Windows: the test builds its tree out of symlinks.
Deno.test({
  name: "searchLocalDirectory: symlinked base and platform dirs count, symlinked host dirs do not",
  ignore: SYMLINKS_UNSUPPORTED,
}, async () => {
  await using tmp = await tempDir();
  const real = join(tmp.path, "real");
  await put(join(real, "example.com/foo/bar/1.0.0/linux_amd64/terraform-provider-bar"), "x");
  await Deno.symlink(join(real, "example.com"), join(real, "example.net"));
  await put(join(tmp.path, "elsewhere/terraform-provider-baz"), "y");
  await Deno.mkdir(join(real, "example.com/foo/baz/1.0.0"), { recursive: true });
  await Deno.symlink(
    join(tmp.path, "elsewhere"),
    join(real, "example.com/foo/baz/1.0.0/linux_amd64"),
  );
  await Deno.symlink(real, join(tmp.path, "link"));
  const found = await searchLocalDirectory(join(tmp.path, "link"));
  assert.deepEqual([...found.keys()].sort(), ["example.com/foo/bar", "example.com/foo/baz"]);
  assert.ok(
    found.get("example.com/foo/bar")![0]!.location.path.startsWith(await Deno.realPath(real)),
  );
});

Deno.test("Dir.installFromArchive: fixture zip installs with the zip's h1 and no leftovers", async () => {
  await using tmp = await tempDir();
  const dir = new Dir(tmp.path, { platform: LINUX });
  const v = parseVersion("2.1.0");
  const entry = await dir.installFromArchive(NULL, v, NULL_ZIP);
  assert.equal(await entry.hash(), NULL_H1);
  const all = await dir.allAvailablePackages();
  assert.equal(
    versionString(all.get("registry.terraform.io/hashicorp/null")![0]!.version),
    "2.1.0",
  );
  const tree = await listTree(join(tmp.path, "registry.terraform.io"));
  assert.deepEqual(tree, [
    "hashicorp",
    "hashicorp/null",
    "hashicorp/null/2.1.0",
    "hashicorp/null/2.1.0/linux_amd64",
    "hashicorp/null/2.1.0/linux_amd64/terraform-provider-null",
  ]);
  // Allowed hashes: zh of the zip and h1 both accepted; a wrong one refused, entry untouched.
  await dir.installFromArchive(NULL, v, NULL_ZIP, [NULL_ZIP_ZH]);
  await dir.installFromArchive(NULL, v, NULL_ZIP, [NULL_H1]);
  const other = new Dir(join(tmp.path, "other"), { platform: LINUX });
  await assert.rejects(
    () => other.installFromArchive(NULL, v, NULL_ZIP, ["h1:does-not-match"]),
    (e: Error) =>
      e instanceof PackageHashMismatchError && /doesn't match any of the checksums/.test(e.message),
  );
  assert.equal(await other.providerVersion(NULL, v), undefined);
  assert.deepEqual(
    (await listTree(join(tmp.path, "other"))).filter((p) => p.includes(".tmp_")),
    [],
  );
});

Deno.test("Dir.installFromArchive replaces a different existing entry and keeps an identical one", async () => {
  await using tmp = await tempDir();
  const dir = new Dir(tmp.path, { platform: LINUX });
  const v = parseVersion("2.1.0");
  const target = dir.unpackedPath(NULL, v);
  await put(join(target, "terraform-provider-null"), "tampered");
  await dir.installFromArchive(NULL, v, NULL_ZIP);
  assert.equal(await (await dir.providerVersion(NULL, v))!.hash(), NULL_H1);
  const before = (await Deno.stat(join(target, "terraform-provider-null"))).ino;
  await dir.installFromArchive(NULL, v, NULL_ZIP);
  assert.equal((await Deno.stat(join(target, "terraform-provider-null"))).ino, before);
  assert.deepEqual(await listTree(join(tmp.path, "registry.terraform.io/hashicorp/null/2.1.0")), [
    "linux_amd64",
    "linux_amd64/terraform-provider-null",
  ]);
});

Deno.test("Dir.linkFromOtherCache: symlink by default, copy fallback, hash check, not to itself", async (t) => {
  await using tmp = await tempDir();
  await buildCacheDir(join(tmp.path, "src"));
  const src = new Dir(join(tmp.path, "src"), { platform: WINDOWS });
  const entry = (await src.providerVersion(NULL, V2))!;
  // Windows: Dir links with a directory symlink by default, which needs privileges there.
  await t.step({
    name: "symlink",
    ignore: SYMLINKS_UNSUPPORTED,
    fn: async () => {
      const dst = new Dir(join(tmp.path, "dst"), { platform: WINDOWS });
      await dst.linkFromOtherCache(entry);
      const got = (await dst.providerVersion(NULL, V2))!;
      assert.ok((await Deno.lstat(got.packageDir)).isSymlink);
      assert.equal(await Deno.readLink(got.packageDir), entry.packageDir);
      assert.equal(await got.hash(), await entry.hash());
    },
  });
  await t.step("copy keeps modes and skips dot-files", async () => {
    await put(join(entry.packageDir, ".hidden"), "skip me");
    const linuxSrc = new Dir(join(tmp.path, "src"), { platform: LINUX });
    const le = (await linuxSrc.providerVersion(NULL, V2))!;
    const dst = new Dir(join(tmp.path, "copy"), { platform: LINUX, linkMode: "copy" });
    await dst.linkFromOtherCache(le, [NULL_H1]);
    const got = (await dst.providerVersion(NULL, V2))!;
    assert.equal((await Deno.lstat(got.packageDir)).isSymlink, false);
    assert.equal(await got.hash(), NULL_H1);
    // Windows has no Unix modes (stat's mode is null).
    if (!NO_UNIX_MODES) {
      const mode = (await Deno.stat(join(got.packageDir, "terraform-provider-null"))).mode! & 0o777;
      assert.equal(mode, 0o755);
    }
    await Deno.remove(join(entry.packageDir, ".hidden"));
  });
  await t.step("hash mismatch", async () => {
    const dst = new Dir(join(tmp.path, "dst2"), { platform: WINDOWS });
    await assert.rejects(
      () => dst.linkFromOtherCache(entry, [NULL_H1]),
      /doesn't match any of the checksums recorded/,
    );
    assert.equal(await dst.providerVersion(NULL, V2), undefined);
  });
  await t.step("to itself", async () => {
    await assert.rejects(
      () => src.linkFromOtherCache(entry),
      (e: Error) => e instanceof ProviderInstallError && /to itself/.test(e.message),
    );
    assert.ok(await src.providerVersion(NULL, V2));
  });
});

Deno.test("Dir.installFromDirectory: zh-only allowed hashes are not checkable and pass", async () => {
  await using tmp = await tempDir();
  const dir = new Dir(tmp.path, { platform: LINUX });
  await dir.installFromDirectory(NULL, V2, NULL_DIR, [NULL_ZIP_ZH]);
  assert.equal(await (await dir.providerVersion(NULL, V2))!.hash(), NULL_H1);
  const dir2 = new Dir(join(tmp.path, "b"), { platform: LINUX });
  await assert.rejects(
    () => dir2.installFromDirectory(NULL, V2, NULL_DIR, [BEEP_H1]),
    /local package/,
  );
});

Deno.test("Dir.installPackage refuses a package for another platform", async () => {
  await using tmp = await tempDir();
  const dir = new Dir(tmp.path, { platform: LINUX });
  await assert.rejects(
    () =>
      dir.installPackage({
        provider: NULL,
        version: V2,
        protocolVersions: [],
        targetPlatform: WINDOWS,
        filename: "x.zip",
        location: { kind: "archive", path: NULL_ZIP },
      }, []),
    /can't install windows_amd64 package into cache directory expecting linux_amd64/,
  );
});

Deno.test("Dir sweeps leftovers of an interrupted install under the package lock", async () => {
  await using tmp = await tempDir();
  const dir = new Dir(tmp.path, { platform: LINUX });
  const v = parseVersion("2.1.0");
  const target = dir.unpackedPath(NULL, v);
  await put(join(target + "/..", ".tmp_linux_amd64_crashed/terraform-provider-null"), "half");
  await put(join(target + "/..", ".tmp_linux_amd64_crashed2.zip"), "half");
  await dir.installFromArchive(NULL, v, NULL_ZIP);
  assert.deepEqual(await listTree(join(target, "..")), [
    "linux_amd64",
    "linux_amd64/terraform-provider-null",
  ]);
});

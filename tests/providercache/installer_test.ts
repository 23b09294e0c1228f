import assert from "node:assert/strict";
import { join } from "node:path";
import { Dir } from "../../src/providercache/dir.ts";
import { InstallerError } from "../../src/providercache/errors.ts";
import { Installer, type InstallMode } from "../../src/providercache/installer.ts";
import type { InstallerEvents } from "../../src/providercache/installer_events.ts";
import type { PackageAuthentication } from "../../src/providercache/package_meta.ts";
import { LockFile } from "../../src/lock/lock_file.ts";
import { zipHash } from "../../src/registry/hashes.ts";
import {
  newBuiltInProvider,
  parseProviderSource,
  type ProviderAddress,
} from "../../src/registry/provider_address.ts";
import { parseVersion, versionString } from "../../src/registry/version.ts";
import {
  parseVersionConstraints,
  type VersionConstraints,
} from "../../src/registry/version_constraints.ts";
import { BEEP_DIR, BEEP_H1, NULL_H1, NULL_ZIP, NULL_ZIP_ZH, tempDir } from "./_support/fixtures.ts";
import { type MockPackage, MockSource, recordEvents } from "./_support/mock_source.ts";

const BEEP = parseProviderSource("example.com/foo/beep");
const PLAT = { os: "bleep", arch: "bloop" };
const GE2 = parseVersionConstraints(">= 2.0.0");

function beepPackages(versions = ["1.0.0", "2.0.0", "2.1.0"]): MockPackage[] {
  return versions.map((version) => ({
    provider: BEEP,
    version,
    platform: PLAT,
    location: { kind: "dir", path: BEEP_DIR },
  }));
}

interface Scenario {
  packages?: MockPackage[];
  extraVersions?: Record<string, string[]>;
  global?: boolean;
  mayBreak?: boolean;
  prepare?: (ctx: { target: Dir; global: Dir | undefined; locks: LockFile }) => Promise<void>;
  reqs?: [ProviderAddress, VersionConstraints][];
  mode?: InstallMode;
  builtIn?: string[];
}

async function run(s: Scenario) {
  const tmp = await tempDir();
  const target = new Dir(join(tmp.path, "target"), { platform: PLAT });
  const global = s.global ? new Dir(join(tmp.path, "global"), { platform: PLAT }) : undefined;
  const locks = new LockFile();
  await s.prepare?.({ target, global, locks });
  const source = new MockSource(s.packages ?? beepPackages(), s.extraVersions);
  const installer = new Installer({
    targetDir: target,
    source,
    globalCacheDir: global,
    globalCacheMayBreakLockFile: s.mayBreak,
    builtInProviderTypes: s.builtIn,
  });
  const { events, log } = recordEvents();
  let result: LockFile | undefined;
  let error: unknown;
  try {
    result = await installer.ensureProviderVersions(
      locks,
      s.reqs ?? [[BEEP, GE2]],
      s.mode ?? "new-only",
      { events: events as InstallerEvents },
    );
  } catch (e) {
    error = e;
  }
  const clean = log.map((l) => l.replaceAll(tmp.path, "$TMP"));
  return { tmp, target, global, locks, source, log: clean, result, error };
}

function lockSummary(locks: LockFile): string[] {
  return locks.allProviders().map((l) =>
    `${l.address.hostname}/${l.address.namespace}/${l.address.type} ${versionString(l.version)} ${
      l.constraints ?? "-"
    } ${l.hashes.join(",")}`
  );
}

Deno.test("installer: no dependencies", async () => {
  const r = await run({ reqs: [] });
  await using _ = r.tmp;
  assert.deepEqual(r.log, ["pendingProviders []"]);
  assert.equal(r.result!.size, 0);
});

Deno.test("installer: successful initial install of one provider", async () => {
  const r = await run({});
  await using _ = r.tmp;
  assert.equal(r.error, undefined);
  assert.deepEqual(lockSummary(r.result!), [`example.com/foo/beep 2.1.0 >= 2.0.0 ${BEEP_H1}`]);
  assert.deepEqual(r.log, [
    "pendingProviders [example.com/foo/beep]",
    'queryPackagesBegin example.com/foo/beep [{"operator":">=","boundary":{"major":2,"minor":0,"patch":0,"prerelease":"","metadata":""}}] false',
    "queryPackagesSuccess example.com/foo/beep 2.1.0",
    "fetchPackageMeta example.com/foo/beep 2.1.0",
    "fetchPackageBegin example.com/foo/beep 2.1.0 dir false",
    `providersLockUpdated example.com/foo/beep 2.1.0 [${BEEP_H1}] [] []`,
    "fetchPackageSuccess example.com/foo/beep 2.1.0 $TMP/target/example.com/foo/beep/2.1.0/bleep_bloop -",
  ]);
  const entry = await r.target.providerVersion(BEEP, parseVersion("2.1.0"));
  assert.equal(await entry!.hash(), BEEP_H1);
});

Deno.test("installer: initial install from a signed .zip records h1 + every signed zh", async () => {
  const auth: PackageAuthentication = {
    kind: "signed-checksums",
    archiveSha256: NULL_ZIP_ZH.slice(3),
    documentHashes: [NULL_ZIP_ZH, "zh:" + "1".repeat(64)],
    signature: {
      kind: "community",
      keyId: "ABCDEF0123456789",
      label: "self-signed",
      signedAt: undefined,
      keyExpired: false,
      keyExpiredAtSigning: false,
      keyExpiresAt: undefined,
      trustSignatureUnchecked: false,
    },
  };
  const NULLP = parseProviderSource("hashicorp/null");
  const r = await run({
    packages: [{
      provider: NULLP,
      version: "2.1.0",
      platform: PLAT,
      location: { kind: "archive", path: NULL_ZIP },
      authentication: auth,
    }],
    reqs: [[NULLP, []]],
  });
  await using _ = r.tmp;
  assert.equal(r.error, undefined);
  assert.deepEqual(lockSummary(r.result!), [
    `registry.terraform.io/hashicorp/null 2.1.0 - ${NULL_H1},zh:${"1".repeat(64)},${NULL_ZIP_ZH}`,
  ]);
  assert.ok(r.log.includes("providersFetched map(registry.terraform.io/hashicorp/null)"));
  assert.ok(
    r.log.some((l) => l.startsWith("fetchPackageSuccess") && l.endsWith("auth(self-signed)")),
  );
});

Deno.test("installer: a tampered archive fails the signed shasum before anything is visible", async () => {
  const NULLP = parseProviderSource("hashicorp/null");
  const r = await run({
    packages: [{
      provider: NULLP,
      version: "2.1.0",
      platform: PLAT,
      location: { kind: "archive", path: NULL_ZIP },
      authentication: { kind: "reported-hashes", hashes: ["h1:other"] },
    }],
    reqs: [[NULLP, []]],
  });
  await using _ = r.tmp;
  assert.ok(r.error instanceof InstallerError);
  assert.match(r.error.message, /doesn't match the expected checksum "h1:other"/);
  assert.equal(await r.target.providerVersion(NULLP, parseVersion("2.1.0")), undefined);
});

Deno.test("installer: cold global cache installs there, then links", async () => {
  const r = await run({ global: true });
  await using _ = r.tmp;
  assert.equal(r.error, undefined);
  assert.deepEqual(r.log.slice(4), [
    "fetchPackageBegin example.com/foo/beep 2.1.0 dir true",
    `providersLockUpdated example.com/foo/beep 2.1.0 [${BEEP_H1}] [] []`,
    "fetchPackageSuccess example.com/foo/beep 2.1.0 $TMP/global/example.com/foo/beep/2.1.0/bleep_bloop -",
    "linkFromCacheBegin example.com/foo/beep 2.1.0 $TMP/global",
    "linkFromCacheSuccess example.com/foo/beep 2.1.0 $TMP/target/example.com/foo/beep/2.1.0/bleep_bloop",
  ]);
  const t = await r.target.providerVersion(BEEP, parseVersion("2.1.0"));
  assert.ok((await Deno.lstat(t!.packageDir)).isSymlink);
});

async function warmGlobal(ctx: { global: Dir | undefined }): Promise<void> {
  await ctx.global!.installFromDirectory(BEEP, parseVersion("2.1.0"), BEEP_DIR, [], {});
}

Deno.test("installer: warm global cache + correct locked checksum makes no source calls", async () => {
  const r = await run({
    global: true,
    prepare: async (ctx) => {
      await warmGlobal(ctx);
      ctx.locks.setProvider(BEEP, parseVersion("2.1.0"), GE2, [BEEP_H1]);
    },
  });
  await using _ = r.tmp;
  assert.equal(r.error, undefined);
  assert.deepEqual(r.source.calls, []);
  assert.deepEqual(r.log.slice(1).map((l) => l.split(" ")[0]), [
    "queryPackagesBegin",
    "queryPackagesSuccess",
    "providerAlreadyInstalled",
    "linkFromCacheBegin",
    "linkFromCacheSuccess",
  ]);
  assert.ok(r.log.includes("providerAlreadyInstalled example.com/foo/beep 2.1.0 true"));
  assert.deepEqual(lockSummary(r.result!), [`example.com/foo/beep 2.1.0 >= 2.0.0 ${BEEP_H1}`]);
});

Deno.test("installer: warm global cache without a lock entry is not trusted blindly", async () => {
  const r = await run({ global: true, prepare: warmGlobal });
  await using _ = r.tmp;
  assert.equal(r.error, undefined);
  assert.deepEqual(r.source.calls, [
    "availableVersions example.com/foo/beep",
    "packageMeta example.com/foo/beep 2.1.0",
  ]);
  assert.ok(r.log.some((l) => l.startsWith("fetchPackageBegin") && l.endsWith("true")));
});

Deno.test("installer: warm global cache with an incompatible locked checksum reinstalls", async () => {
  const r = await run({
    global: true,
    mode: "force",
    prepare: async (ctx) => {
      await warmGlobal(ctx);
      ctx.locks.setProvider(BEEP, parseVersion("2.1.0"), GE2, ["h1:does-not-match"]);
    },
  });
  await using _ = r.tmp;
  assert.equal(r.error, undefined);
  assert.deepEqual(r.source.calls, ["packageMeta example.com/foo/beep 2.1.0"]);
  assert.deepEqual(lockSummary(r.result!), [
    `example.com/foo/beep 2.1.0 >= 2.0.0 ${BEEP_H1},h1:does-not-match`,
  ]);
});

Deno.test("installer: mayBreak without lock records only the cache h1; with a wrong lock it fails", async () => {
  const r = await run({ global: true, mayBreak: true, prepare: warmGlobal });
  await using _ = r.tmp;
  assert.equal(r.error, undefined);
  assert.deepEqual(lockSummary(r.result!), [`example.com/foo/beep 2.1.0 >= 2.0.0 ${BEEP_H1}`]);

  const r2 = await run({
    global: true,
    mayBreak: true,
    prepare: async (ctx) => {
      await warmGlobal(ctx);
      ctx.locks.setProvider(BEEP, parseVersion("2.1.0"), GE2, ["h1:wrong"]);
    },
  });
  await using _2 = r2.tmp;
  assert.ok(r2.error instanceof InstallerError);
  assert.match(r2.error.message, /doesn't match any of the checksums/);
  assert.ok(r2.log.some((l) => l.startsWith("fetchPackageFailure") && l.includes("local package")));
  assert.equal(await r2.target.providerVersion(BEEP, parseVersion("2.1.0")), undefined);
  assert.deepEqual(lockSummary(r2.error.locks), [`example.com/foo/beep 2.1.0 >= 2.0.0 h1:wrong`]);
});

Deno.test("installer: reinstall of a previously-locked provider keeps prior hashes", async () => {
  const r = await run({
    prepare: (ctx) => {
      ctx.locks.setProvider(BEEP, parseVersion("2.0.0"), GE2, [BEEP_H1, "zh:" + "a".repeat(64)]);
      return Promise.resolve();
    },
  });
  await using _ = r.tmp;
  assert.equal(r.error, undefined);
  assert.deepEqual(lockSummary(r.result!), [
    `example.com/foo/beep 2.0.0 >= 2.0.0 ${BEEP_H1},zh:${"a".repeat(64)}`,
  ]);
  assert.ok(
    r.log.includes(
      `providersLockUpdated example.com/foo/beep 2.0.0 [${BEEP_H1}] [] [${BEEP_H1},zh:${
        "a".repeat(64)
      }]`,
    ),
  );
});

Deno.test("installer: skipped install of a previously-locked and installed provider", async () => {
  const r = await run({
    prepare: async (ctx) => {
      await ctx.target.installFromDirectory(BEEP, parseVersion("2.0.0"), BEEP_DIR);
      ctx.locks.setProvider(BEEP, parseVersion("2.0.0"), undefined, [BEEP_H1, "unknown:x"]);
    },
  });
  await using _ = r.tmp;
  assert.equal(r.error, undefined);
  assert.ok(r.log.includes("providerAlreadyInstalled example.com/foo/beep 2.0.0 false"));
  assert.deepEqual(r.source.calls, ["availableVersions example.com/foo/beep"]);
  assert.deepEqual(lockSummary(r.result!), [
    `example.com/foo/beep 2.0.0 >= 2.0.0 ${BEEP_H1},unknown:x`,
  ]);
});

Deno.test("installer: upgrade ignores the locked version", async () => {
  const r = await run({
    mode: "upgrade",
    prepare: (ctx) => {
      ctx.locks.setProvider(BEEP, parseVersion("2.0.0"), GE2, ["h1:old"]);
      return Promise.resolve();
    },
  });
  await using _ = r.tmp;
  assert.equal(r.error, undefined);
  assert.ok(r.log[1]!.endsWith(" false"), "queryPackagesBegin locked=false");
  assert.deepEqual(lockSummary(r.result!), [`example.com/foo/beep 2.1.0 >= 2.0.0 ${BEEP_H1}`]);
});

Deno.test("installer: built-in providers", async () => {
  const TF = newBuiltInProvider("terraform");
  const ok = await run({ reqs: [[TF, []]], builtIn: ["terraform"] });
  await using _1 = ok.tmp;
  assert.deepEqual(ok.log, [
    "pendingProviders [terraform.io/builtin/terraform]",
    "builtInProviderAvailable terraform.io/builtin/terraform",
  ]);
  assert.equal(ok.result!.size, 0);
  const missing = await run({ reqs: [[TF, []]] });
  await using _2 = missing.tmp;
  assert.match(
    (missing.error as Error).message,
    /this Terraform release has no built-in provider named "terraform"/,
  );
  const constrained = await run({
    reqs: [[TF, parseVersionConstraints("1.0.0")]],
    builtIn: ["terraform"],
  });
  await using _3 = constrained.tmp;
  assert.match(
    (constrained.error as Error).message,
    /built-in providers do not support explicit version constraints/,
  );
});

Deno.test("installer: removes no-longer-needed providers from the lock file", async () => {
  const OLD = parseProviderSource("example.com/foo/obsolete");
  const r = await run({
    prepare: (ctx) => {
      ctx.locks.setProvider(OLD, parseVersion("1.0.0"), undefined, ["no:irrelevant"]);
      return Promise.resolve();
    },
  });
  await using _ = r.tmp;
  assert.deepEqual(lockSummary(r.result!), [`example.com/foo/beep 2.1.0 >= 2.0.0 ${BEEP_H1}`]);
});

Deno.test("installer: selection failures", async (t) => {
  await t.step("locked version is excluded by new version constraint", async () => {
    const r = await run({
      reqs: [[BEEP, parseVersionConstraints("1.0.0")]],
      prepare: (ctx) => {
        ctx.locks.setProvider(BEEP, parseVersion("2.0.0"), undefined, [BEEP_H1]);
        return Promise.resolve();
      },
    });
    await using _ = r.tmp;
    assert.ok(r.error instanceof InstallerError);
    assert.equal(
      r.error.message,
      "some providers could not be installed:\n- example.com/foo/beep: locked provider example.com/foo/beep 2.0.0 does not match configured version constraint 1.0.0; must use terraform init -upgrade to allow selection of new versions",
    );
    assert.deepEqual(r.log.slice(1).map((l) => l.split(" ")[0]), [
      "queryPackagesBegin",
      "queryPackagesFailure",
    ]);
    assert.deepEqual(lockSummary(r.error.locks), [`example.com/foo/beep 2.0.0 - ${BEEP_H1}`]);
  });
  await t.step("locked version is no longer available", async () => {
    const r = await run({
      prepare: (ctx) => {
        ctx.locks.setProvider(BEEP, parseVersion("2.0.2"), undefined, [BEEP_H1]);
        return Promise.resolve();
      },
    });
    await using _ = r.tmp;
    assert.match(
      (r.error as Error).message,
      /the previously-selected version 2.0.2 is no longer available/,
    );
  });
  await t.step("no versions match the version constraint", async () => {
    const r = await run({ reqs: [[BEEP, parseVersionConstraints("2.2.0")]] });
    await using _ = r.tmp;
    assert.match(
      (r.error as Error).message,
      /no available releases match the given constraints 2.2.0$/,
    );
  });
  await t.step("version exists but doesn't support the current platform", async () => {
    const r = await run({
      reqs: [[BEEP, parseVersionConstraints("3.0.0")]],
      extraVersions: { "example.com/foo/beep": ["3.0.0"] },
    });
    await using _ = r.tmp;
    assert.match(
      (r.error as Error).message,
      /provider example.com\/foo\/beep 3.0.0 is not available for bleep_bloop/,
    );
    assert.ok(r.log.some((l) => l.startsWith("fetchPackageFailure")));
  });
  await t.step("0.0.0 is rejected", async () => {
    const r = await run({ reqs: [[BEEP, parseVersionConstraints("0.0.0")]] });
    await using _ = r.tmp;
    assert.match((r.error as Error).message, /0\.0\.0 is not a valid provider version/);
  });
});

Deno.test("installer: available package doesn't match locked hash; force mode ignores hashes", async () => {
  const prepare = (ctx: { locks: LockFile }) => {
    ctx.locks.setProvider(BEEP, parseVersion("2.1.0"), GE2, ["h1:does-not-match"]);
    return Promise.resolve();
  };
  const r = await run({ prepare });
  await using _ = r.tmp;
  assert.match(
    (r.error as Error).message,
    /the local package for example.com\/foo\/beep 2.1.0 doesn't match/,
  );
  assert.equal(await r.target.providerVersion(BEEP, parseVersion("2.1.0")), undefined);
  const f = await run({ prepare, mode: "force" });
  await using _f = f.tmp;
  assert.equal(f.error, undefined);
  assert.deepEqual(lockSummary(f.result!), [
    `example.com/foo/beep 2.1.0 >= 2.0.0 ${BEEP_H1},h1:does-not-match`,
  ]);
  assert.ok(
    f.log.includes(
      `providersLockUpdated example.com/foo/beep 2.1.0 [${BEEP_H1}] [] [h1:does-not-match]`,
    ),
  );
});

Deno.test("installer: InstallerError lists every failed provider, sorted; others still installed", async () => {
  const A = parseProviderSource("example.com/aaa/missing");
  const Z = parseProviderSource("example.com/zzz/missing");
  const r = await run({ reqs: [[Z, []], [BEEP, GE2], [A, []]] });
  await using _ = r.tmp;
  assert.ok(r.error instanceof InstallerError);
  assert.deepEqual(r.error.failures.map((f) => f.provider.namespace), ["aaa", "zzz"]);
  assert.match(
    r.error.message,
    /^some providers could not be installed:\n- example.com\/aaa\/missing: no available releases match the given constraints \n- example.com\/zzz\/missing: /,
  );
  assert.deepEqual(lockSummary(r.error.locks), [`example.com/foo/beep 2.1.0 >= 2.0.0 ${BEEP_H1}`]);
});

Deno.test("installer: an aborted signal cancels before anything is installed", async () => {
  await using tmp = await tempDir();
  const target = new Dir(join(tmp.path, "t"), { platform: PLAT });
  const installer = new Installer({ targetDir: target, source: new MockSource(beepPackages()) });
  const ac = new AbortController();
  ac.abort(new DOMException("stop", "AbortError"));
  await assert.rejects(
    () =>
      installer.ensureProviderVersions(new LockFile(), [[BEEP, []]], "new-only", {
        signal: ac.signal,
      }),
    /stop/,
  );
  assert.equal(await target.providerVersion(BEEP, parseVersion("2.1.0")), undefined);
});

Deno.test("installer: global cache must differ from the target", () => {
  const d = new Dir("/tmp/x", { platform: PLAT });
  assert.throws(
    () =>
      new Installer({
        targetDir: d,
        globalCacheDir: new Dir("/tmp/x"),
        source: new MockSource([]),
      }),
    /must not match/,
  );
});

Deno.test("installer: many providers in force mode concurrently (race smoke test)", async () => {
  const providers = Array.from(
    { length: 60 },
    (_, i) => parseProviderSource(`example.com/race${i}/null`),
  );
  const packages: MockPackage[] = providers.map((provider) => ({
    provider,
    version: "1.0.0",
    platform: PLAT,
    location: { kind: "archive", path: NULL_ZIP },
  }));
  const r = await run({
    packages,
    reqs: providers.map((p) => [p, []]),
    mode: "force",
    global: true,
  });
  await using _ = r.tmp;
  assert.equal(r.error, undefined);
  assert.equal(r.result!.size, 60);
  assert.equal(await zipHash(NULL_ZIP), NULL_ZIP_ZH);
});

/**
 * `tfcache run -- terraform init` pre-installing the locked providers from the shared unpacked
 * cache, against the fake upstream registry with a real terraform (SKIP line without it).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Dir } from "../../src/providercache/dir.ts";
import { parseProviderSource } from "../../src/registry/provider_address.ts";
import { parseVersion } from "../../src/registry/version.ts";
import { type FakeRegistry, startFakeRegistry } from "../support/fake_registry.ts";
import {
  createTerraformSandbox,
  localPlatform,
  terraformInitOk,
  type TerraformSandbox,
} from "../support/terraform.ts";
import {
  alphaBetaProviders,
  PLATFORMS_WITH_LOCAL,
  readLock,
  skipWithoutTerraform,
  writeAlphaBetaConfig,
} from "./_support/alpha_beta.ts";
import { runCli } from "./_support/run_cli.ts";
import { COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED, NO_SHEBANG_SCRIPTS } from "../support/os_guards.ts";

const PLATFORMS = PLATFORMS_WITH_LOCAL;
/** Each zip is bigger than every metadata document of a run put together. */
const ZIP_SIZE = 300_000;
const TYPES = [["alpha", "1.1.0"], ["beta-gamma", "0.3.0"]] as const;

interface RunReport {
  exitCode: number;
  stats: { bytesSaved: number; hits: number };
  preinstall?: {
    status: string;
    reason?: string;
    installed: string[];
    skipped: { provider: string; reason: string }[];
  };
}

async function startRegistry(): Promise<FakeRegistry> {
  return await startFakeRegistry({
    providers: alphaBetaProviders(PLATFORMS, { sizeBytes: ZIP_SIZE }),
  });
}

async function sandbox(registry: FakeRegistry, cliConfig = ""): Promise<TerraformSandbox> {
  const box = await createTerraformSandbox({ sslCertFile: registry.caFile, cliConfig });
  await writeAlphaBetaConfig(box.workDir, registry.host);
  return box;
}

async function tfcacheInit(
  box: TerraformSandbox,
  cacheDir: string,
  initArgs: string[] = [],
  runArgs: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string; report: RunReport }> {
  const reportPath = join(box.root, `report-${crypto.randomUUID()}.json`);
  const run = await runCli(
    [
      "run",
      "--cache-dir",
      cacheDir,
      "--report-json",
      reportPath,
      ...runArgs,
      "--",
      "terraform",
      "init",
      "-input=false",
      "-no-color",
      ...initArgs,
    ],
    { cwd: box.workDir, env: box.env },
  );
  const report = JSON.parse(await Deno.readTextFile(reportPath)) as RunReport;
  return { ...run, report };
}

async function directInit(box: TerraformSandbox, args: string[] = []): Promise<string> {
  await terraformInitOk([...args], {
    cwd: box.workDir,
    env: box.env,
  });
  return await readLock(box.workDir);
}

async function writeLock(box: TerraformSandbox, text: string): Promise<void> {
  await Deno.writeTextFile(join(box.workDir, ".terraform.lock.hcl"), text);
}

function escaped(text: string): string {
  return text.replaceAll(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Checks every provider of the working directory: linked from the unpacked cache, right h1. */
async function assertLinkedPackages(
  box: TerraformSandbox,
  registry: FakeRegistry,
  cacheDir: string,
): Promise<void> {
  const target = new Dir(join(box.workDir, ".terraform", "providers"));
  for (const [type, version] of TYPES) {
    const entry = await target.providerVersion(
      parseProviderSource(`${registry.host}/tfcache/${type}`),
      parseVersion(version),
    );
    assert.ok(entry !== undefined, `${type} installed`);
    assert.ok((await Deno.lstat(entry.packageDir)).isSymlink, `${type} linked`);
    const real = await Deno.realPath(entry.packageDir);
    // realPath on both sides: macOS temp dirs are under a symlink (/var → /private/var).
    assert.ok(real.startsWith(join(await Deno.realPath(cacheDir), "unpacked")), real);
    assert.equal(
      await entry.hash(),
      registry.expectedHashes(`tfcache/${type}`, version).h1[localPlatform()],
    );
  }
}

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name:
    "run pre-install: cold init installs normally; a warm init with the lock file downloads nothing and writes the same lock file",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  if (skipWithoutTerraform("run pre-install")) return;
  await using registry = await startRegistry();
  await using direct = await sandbox(registry);
  await using cold = await sandbox(registry);
  await using warm = await sandbox(registry);
  await using again = await sandbox(registry);
  const cacheDir = join(cold.root, "cache");
  const directLock = await directInit(direct);

  const coldRun = await tfcacheInit(cold, cacheDir);
  assert.equal(coldRun.code, 0, coldRun.stdout + coldRun.stderr);
  assert.equal(coldRun.report.preinstall?.status, "skipped");
  assert.match(coldRun.report.preinstall?.reason ?? "", /no \.terraform\.lock\.hcl/);
  assert.doesNotMatch(coldRun.stderr, /pre-install/);
  assert.match(coldRun.stdout, /- Installing /);
  assert.equal(await readLock(cold.workDir), directLock);

  for (const [box, label] of [[warm, "first warm"], [again, "second warm"]] as const) {
    await writeLock(box, directLock);
    registry.counters.reset();
    const run = await tfcacheInit(box, cacheDir);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.report.preinstall?.status, "done", label);
    assert.equal(run.report.preinstall?.installed.length, 2, label);
    assert.match(run.stderr, /pre-installed 2 providers from the shared cache/);
    for (const [type, version] of TYPES) {
      const addr = escaped(`${registry.host}/tfcache/${type}`);
      assert.match(run.stdout, new RegExp(`Using previously-installed ${addr} v${version}`));
    }
    assert.doesNotMatch(run.stdout, /- Installing/);
    // No zip body went through the cache's front end (a zip is bigger than all metadata).
    assert.ok(run.report.stats.bytesSaved < ZIP_SIZE, `${label}: ${run.report.stats.bytesSaved}`);
    assert.equal(registry.counters.byKind.zip, 0, "nothing from upstream");
    assert.equal(await readLock(box.workDir), directLock, `${label}: lock file byte-identical`);
    await assertLinkedPackages(box, registry, cacheDir);
  }
});

Deno.test("run pre-install: -upgrade and --no-preinstall leave the install to terraform", async () => {
  if (skipWithoutTerraform("run pre-install -upgrade")) return;
  await using registry = await startRegistry();
  await using direct = await sandbox(registry);
  await using upgrade = await sandbox(registry);
  await using off = await sandbox(registry);
  const cacheDir = join(direct.root, "cache");
  const directLock = await directInit(direct);

  await writeLock(upgrade, directLock);
  const up = await tfcacheInit(upgrade, cacheDir, ["-upgrade"]);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  assert.equal(up.report.preinstall?.status, "skipped");
  assert.match(up.report.preinstall?.reason ?? "", /-upgrade/);
  assert.match(up.stdout, /- Installing /);
  assert.equal(await readLock(upgrade.workDir), directLock);

  await writeLock(off, directLock);
  const disabled = await tfcacheInit(off, cacheDir, [], ["--no-preinstall"]);
  assert.equal(disabled.code, 0, disabled.stdout + disabled.stderr);
  assert.equal(disabled.report.preinstall?.status, "disabled");
  assert.match(disabled.stdout, /- Installing /);
  assert.ok(disabled.report.stats.bytesSaved >= 2 * ZIP_SIZE, "terraform downloaded the zips");
  assert.equal(await readLock(off.workDir), directLock);
});

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name:
    "run pre-install: a lock entry whose h1 does not match is left to terraform, which installs it as a direct init does",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  if (skipWithoutTerraform("run pre-install mismatch")) return;
  await using registry = await startRegistry();
  await using seed = await sandbox(registry);
  await using direct = await sandbox(registry);
  await using ours = await sandbox(registry);
  const cacheDir = join(seed.root, "cache");
  const goodLock = await directInit(seed);
  // Warm the unpacked cache with the right packages first.
  await using warm = await sandbox(registry);
  await writeLock(warm, goodLock);
  assert.equal((await tfcacheInit(warm, cacheDir)).code, 0);

  const alphaH1 = registry.expectedHashes("tfcache/alpha", "1.1.0").h1[localPlatform()]!;
  const wrongH1 = "h1:" + "A".repeat(43) + "=";
  assert.ok(goodLock.includes(alphaH1));
  const badLock = goodLock.replace(alphaH1, wrongH1);
  await writeLock(direct, badLock);
  const directLock = await directInit(direct);
  await writeLock(ours, badLock);

  const run = await tfcacheInit(ours, cacheDir);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const alphaAddr = `${registry.host}/tfcache/alpha`;
  assert.match(
    run.stderr,
    new RegExp(`tfcache: pre-install skipped for ${escaped(alphaAddr)}: .*h1:`),
  );
  assert.deepEqual(run.report.preinstall?.installed, [
    `${registry.host}/tfcache/beta-gamma 0.3.0`,
  ]);
  assert.match(run.stdout, new RegExp(`- Installing ${escaped(alphaAddr)} v1\\.1\\.0`));
  assert.match(run.stdout, /Using previously-installed .*beta-gamma v0\.3\.0/);
  assert.equal(await readLock(ours.workDir), directLock, "same lock file as the direct init");
  // terraform unpacked alpha into its own directory, not through a link into the shared cache.
  const alphaDir = join(
    ours.workDir,
    ".terraform/providers",
    registry.host,
    "tfcache/alpha/1.1.0",
    localPlatform(),
  );
  assert.equal((await Deno.lstat(alphaDir)).isSymlink, false);
  const shared = new Dir(join(cacheDir, "unpacked"));
  const entry = await shared.providerVersion(
    parseProviderSource(alphaAddr),
    parseVersion("1.1.0"),
  );
  assert.equal(await entry?.hash(), alphaH1, "the shared cache is intact");
});

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name: "run pre-install: 8 concurrent warm inits sharing one cache all succeed",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  if (skipWithoutTerraform("run pre-install concurrency")) return;
  await using registry = await startRegistry();
  await using seed = await sandbox(registry);
  const lock = await directInit(seed);
  registry.counters.reset();
  const boxes: TerraformSandbox[] = [];
  try {
    for (let i = 0; i < 8; i++) {
      const box = await sandbox(registry);
      boxes.push(box);
      await writeLock(box, lock);
    }
    const cacheDir = join(seed.root, "shared-cache");
    const runs = await Promise.all(boxes.map((box) => tfcacheInit(box, cacheDir)));
    for (const run of runs) {
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.equal(run.report.preinstall?.installed.length, 2, run.stderr);
      assert.doesNotMatch(run.stdout, /- Installing/);
    }
    assert.equal(registry.counters.byKind.zip, 2, "each zip fetched from upstream once");
    for (const box of boxes) {
      assert.equal(await readLock(box.workDir), lock);
      await assertLinkedPackages(box, registry, cacheDir);
    }
  } finally {
    for (const box of boxes) await box.close();
  }
});

// Windows: the stand-in terraform is a #!/bin/sh script.
Deno.test({
  name:
    "run pre-install: skipped when the CLI configuration has its own provider installation or plugin cache",
  ignore: NO_SHEBANG_SCRIPTS,
}, async () => {
  // A stand-in "terraform" that does nothing: only tfcache's decision is under test.
  await using registry = await startRegistry();
  const cases: [string, Record<string, string>, RegExp][] = [
    ['plugin_cache_dir = "/tmp/x"\n', {}, /plugin_cache_dir/],
    ["provider_installation {\n  direct {}\n}\n", {}, /provider_installation/],
    ["", { TF_PLUGIN_CACHE_DIR: "/tmp/x" }, /TF_PLUGIN_CACHE_DIR/],
  ];
  for (const [cliConfig, extraEnv, reason] of cases) {
    await using box = await sandbox(registry, cliConfig);
    const bin = join(box.root, "bin");
    await Deno.mkdir(bin);
    await Deno.writeTextFile(join(bin, "terraform"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    await writeLock(
      box,
      `provider "${registry.host}/tfcache/alpha" {\n  version = "1.1.0"\n  hashes = ["h1:x", "zh:y"]\n}\n`,
    );
    const reportPath = join(box.root, "report.json");
    const run = await runCli(
      ["run", "--cache-dir", join(box.root, "cache"), "--report-json", reportPath, "--"].concat(
        [join(bin, "terraform"), "init"],
      ),
      { cwd: box.workDir, env: { ...box.env, ...extraEnv } },
    );
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(await Deno.readTextFile(reportPath)) as RunReport;
    assert.equal(report.preinstall?.status, "skipped");
    assert.match(report.preinstall?.reason ?? "", reason);
    assert.doesNotMatch(run.stderr, /pre-install/);
  }
});

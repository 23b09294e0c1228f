/**
 * `tfcache providers install` against the fake upstream registry, run as users run it (a child
 * process). The tests that drive a real terraform print a SKIP line when it is not on PATH.
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { Dir } from "../../src/providercache/dir.ts";
import { sha256File } from "../../src/registry/hashes.ts";
import { parseProviderSource } from "../../src/registry/provider_address.ts";
import { parseVersion } from "../../src/registry/version.ts";
import { type FakeRegistry, startFakeRegistry } from "../support/fake_registry.ts";
import {
  createTerraformSandbox,
  localPlatform,
  parseLockFile,
  terraformInitOk,
  terraformPath,
  type TerraformSandbox,
  writeConfig,
} from "../support/terraform.ts";
import {
  alphaBetaProviders,
  BUILTIN_TERRAFORM,
  exists,
  PLATFORMS_WITH_LOCAL,
  writeAlphaBetaConfig,
} from "./_support/alpha_beta.ts";
import { runCli } from "./_support/run_cli.ts";
import { COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED } from "../support/os_guards.ts";

const PLATFORMS = PLATFORMS_WITH_LOCAL;

async function startRegistry(): Promise<FakeRegistry> {
  return await startFakeRegistry({
    providers: [
      ...alphaBetaProviders(PLATFORMS),
      { namespace: "tfcache", type: "signed-badly", versions: ["2.0.0"], platforms: PLATFORMS },
    ],
  });
}

async function writeProviders(dir: string, registry: FakeRegistry): Promise<void> {
  await writeAlphaBetaConfig(dir, registry.host, [BUILTIN_TERRAFORM]);
}

async function install(
  box: TerraformSandbox,
  cacheDir: string,
  extra: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return await runCli(["providers", "install", "--cache-dir", cacheDir, ...extra, box.workDir], {
    env: box.env,
  });
}

/** Every file under `root` (following symlinked directories) → sha256 and mode, `.locks` aside. */
async function fileTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(dir: string): Promise<void> {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name === ".locks") continue;
      const path = join(dir, entry.name);
      const info = await Deno.stat(path);
      if (info.isDirectory) await walk(path);
      else {
        const mode = ((info.mode ?? 0) & 0o111) !== 0 ? "x" : "-";
        out.set(relative(root, path), `${mode} ${await sha256File(path)}`);
      }
    }
  }
  await walk(root);
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name:
    "providers install: links packages from the global cache, writes the lock file, second dir downloads nothing",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  await using registry = await startRegistry();
  await using first = await createTerraformSandbox({ sslCertFile: registry.caFile });
  await using second = await createTerraformSandbox({ sslCertFile: registry.caFile });
  const cacheDir = join(first.root, "cache");
  await writeProviders(first.workDir, registry);
  await writeProviders(second.workDir, registry);

  const run = await install(first, cacheDir);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const alphaAddr = `${registry.host}/tfcache/alpha`;
  assert.match(
    run.stdout,
    new RegExp(
      `- Installed ${
        alphaAddr.replaceAll(".", "\\.")
      } v1\\.1\\.0 \\(self-signed, key ID ${registry.signingKeyId}\\)`,
    ),
  );
  assert.match(run.stdout, /terraform\.io\/builtin\/terraform is built in to Terraform/);
  assert.equal(registry.counters.byKind.zip, 2, "one zip per provider from upstream");

  const target = new Dir(join(first.workDir, ".terraform", "providers"));
  for (const [type, version] of [["alpha", "1.1.0"], ["beta-gamma", "0.3.0"]] as const) {
    const entry = await target.providerVersion(
      parseProviderSource(`${registry.host}/tfcache/${type}`),
      parseVersion(version),
    );
    assert.ok(entry !== undefined, `${type} installed`);
    const link = await Deno.lstat(entry.packageDir);
    assert.ok(link.isSymlink, "linked from the global cache, as with plugin_cache_dir");
    const real = await Deno.realPath(entry.packageDir);
    // realPath on both sides: macOS temp dirs are under a symlink (/var → /private/var).
    assert.ok(real.startsWith(join(await Deno.realPath(cacheDir), "unpacked")), real);
    const expected = registry.expectedHashes(`tfcache/${type}`, version);
    assert.equal(await entry.hash(), expected.h1[localPlatform()]);
  }

  const lockText = await Deno.readTextFile(join(first.workDir, ".terraform.lock.hcl"));
  assert.ok(lockText.startsWith('# This file is maintained automatically by "terraform init".'));
  const locks = parseLockFile(lockText);
  const alpha = locks.get(alphaAddr);
  const expectedAlpha = registry.expectedHashes("tfcache/alpha", "1.1.0");
  assert.equal(alpha?.version, "1.1.0");
  assert.equal(alpha?.constraints, "~> 1.0");
  assert.deepEqual(
    new Set(alpha?.hashes),
    new Set([expectedAlpha.h1[localPlatform()], ...Object.values(expectedAlpha.zh)]),
  );
  assert.equal(locks.size, 2, "built-in providers are not locked");

  // Another working directory: everything comes from the global and tfcache caches.
  registry.counters.reset();
  const again = await install(second, cacheDir);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(registry.counters.byKind.zip, 0, "no zip from upstream");
  assert.equal(
    registry.counters.byKind["download-info"],
    0,
    "no download document from upstream",
  );
  assert.match(again.stdout, /from the shared cache directory/);
  assert.equal(
    await Deno.readTextFile(join(second.workDir, ".terraform.lock.hcl")),
    lockText,
    "same lock file from the caches",
  );

  // Re-running in the first directory changes nothing and asks nobody.
  registry.counters.reset();
  const rerun = await install(first, cacheDir);
  assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
  assert.match(rerun.stdout, /Using previously-installed/);
  assert.doesNotMatch(rerun.stdout, /(Created|Updated) the dependency lock file/);
  assert.equal(registry.counters.total, 0, "no upstream request at all");
  assert.equal(await Deno.readTextFile(join(first.workDir, ".terraform.lock.hcl")), lockText);
});

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name: "providers install: --upgrade selects newer versions than the lock file",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  await using registry = await startRegistry();
  await using box = await createTerraformSandbox({ sslCertFile: registry.caFile });
  const cacheDir = join(box.root, "cache");
  await writeConfig(box.workDir, [{ source: `${registry.host}/tfcache/alpha`, version: "~> 1.0" }]);
  const address = `${registry.host}/tfcache/alpha`;
  await Deno.writeTextFile(
    join(box.workDir, ".terraform.lock.hcl"),
    `# This file is maintained automatically by "terraform init".\n# Manual edits may be lost in future updates.\n\nprovider "${address}" {\n  version     = "1.0.0"\n  constraints = "~> 1.0"\n}\n`,
  );
  const pinned = await install(box, cacheDir);
  assert.equal(pinned.code, 0, pinned.stdout + pinned.stderr);
  assert.match(pinned.stdout, /Reusing previous version/);
  const lock1 = parseLockFile(await Deno.readTextFile(join(box.workDir, ".terraform.lock.hcl")));
  assert.equal(lock1.get(address)?.version, "1.0.0");
  const upgraded = await install(box, cacheDir, ["--upgrade"]);
  assert.equal(upgraded.code, 0, upgraded.stdout + upgraded.stderr);
  const lock2 = parseLockFile(await Deno.readTextFile(join(box.workDir, ".terraform.lock.hcl")));
  assert.equal(lock2.get(address)?.version, "1.1.0");
  assert.match(upgraded.stdout, /Updated the dependency lock file/);
});

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name:
    "providers install: unknown provider and bad signature fail clearly and leave nothing half-installed",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  await using registry = await startRegistry();
  await using box = await createTerraformSandbox({ sslCertFile: registry.caFile });
  const cacheDir = join(box.root, "cache");
  registry.faults.set({ badSignature: true }, { provider: "tfcache/signed-badly" });
  await writeConfig(box.workDir, [
    { name: "alpha", source: `${registry.host}/tfcache/alpha`, version: "1.0.0" },
    { name: "nope", source: `${registry.host}/tfcache/does-not-exist` },
    { name: "bad", source: `${registry.host}/tfcache/signed-badly` },
  ]);
  const run = await install(box, cacheDir);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stderr, /failed to install 2 providers into .*\.terraform\/providers:/);
  assert.match(
    run.stderr,
    new RegExp(
      `- ${registry.host.replaceAll(".", "\\.")}/tfcache/does-not-exist: .*does-not-exist`,
    ),
  );
  assert.match(
    run.stderr,
    new RegExp(
      `- ${registry.host.replaceAll(".", "\\.")}/tfcache/signed-badly: .*signature`,
      "i",
    ),
  );
  assert.match(run.stderr, /The dependency lock file was not changed/);
  assert.doesNotMatch(run.stderr, /alpha:/, "the good provider is not listed as failed");

  assert.equal(await exists(join(box.workDir, ".terraform.lock.hcl")), false, "no lock file");
  const providersRoot = join(box.workDir, ".terraform", "providers", registry.host, "tfcache");
  const unpackedRoot = join(cacheDir, "unpacked", registry.host, "tfcache");
  for (const type of ["does-not-exist", "signed-badly"]) {
    assert.equal(await exists(join(providersRoot, type)), false, `${type} not in the target`);
    assert.equal(
      await exists(join(unpackedRoot, type)),
      false,
      `${type} not in the global cache`,
    );
  }
  // The zip of the badly signed provider never entered the tfcache cache either.
  const badDir = join(cacheDir, "providers", registry.host, "tfcache", "signed-badly");
  const cachedNames: string[] = [];
  if (await exists(badDir)) {
    for await (const entry of Deno.readDir(badDir)) cachedNames.push(entry.name);
  }
  assert.deepEqual(cachedNames.filter((n) => n.endsWith(".zip")), []);
  // The good provider is complete (terraform also keeps what succeeded).
  const alpha = await new Dir(join(box.workDir, ".terraform", "providers")).providerVersion(
    parseProviderSource(`${registry.host}/tfcache/alpha`),
    parseVersion("1.0.0"),
  );
  assert.equal(
    await alpha?.hash(),
    registry.expectedHashes("tfcache/alpha", "1.0.0").h1[localPlatform()],
  );
});

Deno.test("providers: usage errors and help", async () => {
  const env = { HOME: "/nonexistent-home" };
  const none = await runCli(["providers"], { env });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /missing sub-command: install or mirror/);
  const bad = await runCli(["providers", "frobnicate"], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown sub-command "frobnicate"/);
  const two = await runCli(["providers", "install", "a", "b"], { env });
  assert.equal(two.code, 2);
  assert.match(two.stderr, /at most one directory/);
  const help = await runCli(["providers", "install", "--help"], { env });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /tfcache providers install \[--upgrade\]/);
  assert.match(help.stdout, /tfcache providers mirror \[--platform OS_ARCH\]/);
});

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name:
    "real terraform: after providers install, terraform init downloads nothing; same trees and hashes as a direct init",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  if (terraformPath() === undefined) {
    console.log("SKIP: providers install with real terraform: terraform not on PATH");
    return;
  }
  await using registry = await startRegistry();
  await using ours = await createTerraformSandbox({ sslCertFile: registry.caFile });
  await using direct = await createTerraformSandbox({ sslCertFile: registry.caFile });
  const cacheDir = join(ours.root, "cache");
  await writeProviders(ours.workDir, registry);
  await writeProviders(direct.workDir, registry);

  const run = await install(ours, cacheDir);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const ourLock = await Deno.readTextFile(join(ours.workDir, ".terraform.lock.hcl"));

  registry.counters.reset();
  const init = await terraformInitOk([], {
    cwd: ours.workDir,
    env: ours.env,
  });
  for (const type of ["alpha", "beta-gamma"]) {
    const addr = `${registry.host}/tfcache/${type}`.replaceAll(".", "\\.");
    assert.match(init.stdout, new RegExp(`Reusing previous version of ${addr} from the`));
    assert.match(init.stdout, new RegExp(`Using previously-installed ${addr} v`));
  }
  assert.doesNotMatch(init.stdout, /- Installing/);
  assert.equal(registry.counters.byKind.zip, 0, "terraform downloaded no package");
  assert.equal(registry.counters.byKind["download-info"], 0);
  assert.equal(
    await Deno.readTextFile(join(ours.workDir, ".terraform.lock.hcl")),
    ourLock,
    "terraform kept the lock file as written",
  );

  await terraformInitOk([], {
    cwd: direct.workDir,
    env: direct.env,
  });
  assert.equal(
    await Deno.readTextFile(join(direct.workDir, ".terraform.lock.hcl")),
    ourLock,
    "the lock file equals a direct init's byte for byte",
  );
  const ourTree = await fileTree(join(ours.workDir, ".terraform", "providers"));
  const theirTree = await fileTree(join(direct.workDir, ".terraform", "providers"));
  assert.ok(ourTree.size >= 2);
  assert.deepEqual(ourTree, theirTree, "same files, contents and executable bits");
});

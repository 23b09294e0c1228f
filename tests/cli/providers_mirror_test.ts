/**
 * `tfcache providers mirror` against the fake upstream registry, run as a child process. The
 * tests that compare with, or feed, a real terraform print a SKIP line when it is not on PATH.
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { sha256File } from "../../src/registry/hashes.ts";
import { type FakeRegistry, startFakeRegistry } from "../support/fake_registry.ts";
import {
  createTerraformSandbox,
  localPlatform,
  parseLockFile,
  runTerraform,
  terraformInitOk,
  terraformPath,
  type TerraformSandbox,
} from "../support/terraform.ts";
import {
  alphaBetaProviders,
  BUILTIN_TERRAFORM,
  writeAlphaBetaConfig,
} from "./_support/alpha_beta.ts";
import { runCli } from "./_support/run_cli.ts";
import { COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED } from "../support/os_guards.ts";

const LOCAL = localPlatform();
const OTHER = LOCAL === "darwin_arm64" ? "linux_amd64" : "darwin_arm64";

async function startRegistry(): Promise<FakeRegistry> {
  return await startFakeRegistry({
    providers: [
      ...alphaBetaProviders([LOCAL, OTHER, "windows_amd64"], { betaPlatforms: [LOCAL, OTHER] }),
      { namespace: "tfcache", type: "local-only", versions: ["3.0.0"], platforms: [LOCAL] },
    ],
  });
}

async function writeProviders(dir: string, registry: FakeRegistry, extra = false): Promise<void> {
  await writeAlphaBetaConfig(dir, registry.host, [
    BUILTIN_TERRAFORM,
    ...(extra ? [{ name: "local", source: `${registry.host}/tfcache/local-only` }] : []),
  ]);
}

async function mirror(
  box: TerraformSandbox,
  cacheDir: string,
  target: string,
  platforms: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return await runCli(
    [
      "providers",
      "mirror",
      "--cache-dir",
      cacheDir,
      ...platforms.flatMap((p) => ["--platform", p]),
      target,
      box.workDir,
    ],
    { env: box.env },
  );
}

/** Every file under `root` → sha256. */
async function files(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(dir: string): Promise<void> {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else out.set(relative(root, path), await sha256File(path));
    }
  }
  await walk(root);
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name: "providers mirror: packed layout, index files with the packages' h1, failures listed",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  await using registry = await startRegistry();
  await using box = await createTerraformSandbox({ sslCertFile: registry.caFile });
  const cacheDir = join(box.root, "cache");
  const target = join(box.root, "mirror");
  await writeProviders(box.workDir, registry, true);

  const run = await mirror(box, cacheDir, target, [LOCAL, OTHER]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stderr, /failed to mirror 1 provider package into/);
  assert.match(
    run.stderr,
    new RegExp(`tfcache/local-only \\(${OTHER}\\): .*not available for ${OTHER}`),
  );
  assert.match(run.stdout, /Skipping terraform\.io\/builtin\/terraform because it is built in/);

  const dir = join(target, registry.host, "tfcache", "alpha");
  assert.equal(
    await Deno.readTextFile(join(dir, "index.json")),
    '{\n  "versions": {\n    "1.1.0": {}\n  }\n}',
  );
  const expected = registry.expectedHashes("tfcache/alpha", "1.1.0");
  const doc = JSON.parse(await Deno.readTextFile(join(dir, "1.1.0.json")));
  assert.deepEqual(doc, {
    archives: Object.fromEntries(
      [LOCAL, OTHER].sort().map((p) => [p, {
        hashes: [expected.h1[p]],
        url: `terraform-provider-alpha_1.1.0_${p}.zip`,
      }]),
    ),
  });
  for (const p of [LOCAL, OTHER]) {
    const zip = join(dir, `terraform-provider-alpha_1.1.0_${p}.zip`);
    assert.equal(`zh:${await sha256File(zip)}`, expected.zh[p]);
  }
  // What could be mirrored was: the local-only package is there and indexed.
  const local = JSON.parse(
    await Deno.readTextFile(join(target, registry.host, "tfcache", "local-only", "3.0.0.json")),
  );
  assert.deepEqual(Object.keys(local.archives), [LOCAL]);

  // A second run fetches nothing from upstream and keeps the mirror as it is.
  const before = await files(target);
  registry.counters.reset();
  await writeProviders(box.workDir, registry);
  const again = await mirror(box, cacheDir, target, [LOCAL, OTHER]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(registry.counters.byKind.zip, 0);
  assert.deepEqual(await files(target), before);
});

Deno.test("providers mirror: usage errors", async () => {
  const env = { HOME: "/nonexistent-home" };
  const missing = await runCli(["providers", "mirror"], { env });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /needs the target directory/);
  const badPlatform = await runCli(["providers", "mirror", "--platform", "linux", "out"], { env });
  assert.equal(badPlatform.code, 2);
  assert.match(badPlatform.stderr, /invalid --platform "linux"/);
});

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name: "real terraform: mirror output byte-equals terraform providers mirror's",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  if (terraformPath() === undefined) {
    console.log("SKIP: providers mirror vs terraform providers mirror: terraform not on PATH");
    return;
  }
  await using registry = await startRegistry();
  await using box = await createTerraformSandbox({ sslCertFile: registry.caFile });
  await writeProviders(box.workDir, registry);
  const theirs = join(box.root, "terraform-mirror");
  const ours = join(box.root, "tfcache-mirror");
  const platforms = [LOCAL, OTHER];
  const tf = await runTerraform(
    ["providers", "mirror", ...platforms.map((p) => `-platform=${p}`), theirs],
    { cwd: box.workDir, env: box.env },
  );
  assert.equal(tf.code, 0, tf.stdout + tf.stderr);
  const run = await mirror(box, join(box.root, "cache"), ours, platforms);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const theirFiles = await files(theirs);
  assert.ok([...theirFiles.keys()].some((k) => k.endsWith("index.json")));
  assert.deepEqual(await files(ours), theirFiles, "same files, byte for byte");
});

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name: "real terraform: the mirror works as a filesystem_mirror with the registry down",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  if (terraformPath() === undefined) {
    console.log("SKIP: providers mirror as filesystem_mirror: terraform not on PATH");
    return;
  }
  await using registry = await startRegistry();
  await using source = await createTerraformSandbox({ sslCertFile: registry.caFile });
  await using direct = await createTerraformSandbox({ sslCertFile: registry.caFile });
  await writeProviders(source.workDir, registry);
  await writeProviders(direct.workDir, registry);
  const target = join(source.root, "mirror");
  const run = await mirror(source, join(source.root, "cache"), target, [LOCAL]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  await terraformInitOk([], {
    cwd: direct.workDir,
    env: direct.env,
  });
  const directLock = parseLockFile(
    await Deno.readTextFile(join(direct.workDir, ".terraform.lock.hcl")),
  );

  await registry.stop();
  await using airGapped = await createTerraformSandbox({
    sslCertFile: registry.caFile,
    cliConfig: `provider_installation {\n  filesystem_mirror {\n    path = ${
      JSON.stringify(target)
    }\n  }\n}\n`,
  });
  await writeProviders(airGapped.workDir, registry);
  const init = await runTerraform(["init", "-input=false", "-no-color"], {
    cwd: airGapped.workDir,
    env: airGapped.env,
  });
  await registry.start();
  assert.equal(init.code, 0, init.stdout + init.stderr);
  const lock = parseLockFile(
    await Deno.readTextFile(join(airGapped.workDir, ".terraform.lock.hcl")),
  );
  for (const type of ["alpha", "beta-gamma"]) {
    const address = `${registry.host}/tfcache/${type}`;
    const h1 = (l: typeof lock) => l.get(address)?.hashes.filter((h) => h.startsWith("h1:"));
    assert.ok((h1(lock) ?? []).length === 1, `${type} locked with its h1`);
    assert.deepEqual(h1(lock), h1(directLock), `${type}: same h1 as a direct install`);
    assert.equal(lock.get(address)?.version, directLock.get(address)?.version);
  }
});

/**
 * End-to-end tests of `tfcache run -- terraform init` with a real terraform against the fake
 * upstream registry. They SKIP (with a line saying so) when terraform is not on PATH.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type FakeRegistry, startFakeRegistry } from "../support/fake_registry.ts";
import {
  createTerraformSandbox,
  parseLockFile,
  terraformInitOk,
  type TerraformSandbox,
} from "../support/terraform.ts";
import {
  alphaBetaProviders,
  readLock,
  skipWithoutTerraform,
  writeAlphaBetaConfig,
} from "./_support/alpha_beta.ts";
import { runCli } from "./_support/run_cli.ts";
import { COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED, NO_SHEBANG_SCRIPTS } from "../support/os_guards.ts";

const PLATFORMS = ["linux_amd64", "darwin_arm64", "windows_amd64", "linux_arm64"];

async function startRegistry(): Promise<FakeRegistry> {
  return await startFakeRegistry({ providers: alphaBetaProviders(PLATFORMS) });
}

async function writeProviders(dir: string, registry: FakeRegistry): Promise<void> {
  await writeAlphaBetaConfig(dir, registry.host);
}

async function tfcacheInit(
  sandbox: TerraformSandbox,
  cacheDir: string,
  extraArgs: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return await runCli(
    ["run", "--cache-dir", cacheDir, ...extraArgs, "--", "terraform", "init", "-no-color"],
    { cwd: sandbox.workDir, env: sandbox.env },
  );
}

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name:
    "tfcache run: cold init writes the same lock file as a direct init, warm init works offline",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  if (skipWithoutTerraform("run e2e")) return;
  await using registry = await startRegistry();
  await using direct = await createTerraformSandbox({ sslCertFile: registry.caFile });
  await using cold = await createTerraformSandbox({ sslCertFile: registry.caFile });
  await using warm = await createTerraformSandbox({ sslCertFile: registry.caFile });
  const cacheDir = join(cold.root, "cache");
  for (const box of [direct, cold, warm]) await writeProviders(box.workDir, registry);

  await terraformInitOk([], { cwd: direct.workDir, env: direct.env });
  const directLock = await readLock(direct.workDir);
  registry.counters.reset();

  const coldRun = await tfcacheInit(cold, cacheDir);
  assert.equal(coldRun.code, 0, coldRun.stderr + coldRun.stdout);
  assert.equal(await readLock(cold.workDir), directLock);
  const locks = parseLockFile(directLock);
  const alpha = locks.get(`${registry.host}/tfcache/alpha`);
  assert.equal(alpha?.version, "1.1.0");
  // The local h1 plus a zh for every platform in the signed SHA256SUMS.
  assert.equal(alpha?.hashes.filter((h) => h.startsWith("zh:")).length, PLATFORMS.length);
  assert.equal(alpha?.hashes.filter((h) => h.startsWith("h1:")).length, 1);
  assert.match(coldRun.stdout, /self-signed, key ID/);
  assert.match(coldRun.stderr, /downloaded and cached/);
  assert.equal(registry.counters.byKind.zip, 2, "one zip per provider from upstream");

  // The upstream is down: a fresh working directory initialises from the cache alone.
  await registry.stop();
  const warmRun = await tfcacheInit(warm, cacheDir);
  assert.equal(warmRun.code, 0, warmRun.stderr + warmRun.stdout);
  assert.equal(await readLock(warm.workDir), directLock);
  assert.match(warmRun.stderr, /saved/);
  assert.doesNotMatch(warmRun.stderr, /downloaded and cached/);
  await registry.start();
});

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name: "tfcache run: 8 concurrent inits sharing one cache fetch each zip once",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  if (skipWithoutTerraform("run e2e concurrency")) return;
  await using registry = await startRegistry();
  const boxes: TerraformSandbox[] = [];
  try {
    for (let i = 0; i < 8; i++) {
      const box = await createTerraformSandbox({ sslCertFile: registry.caFile });
      boxes.push(box);
      await writeProviders(box.workDir, registry);
    }
    const cacheDir = join(boxes[0]!.root, "shared-cache");
    const results = await Promise.all(boxes.map((box) => tfcacheInit(box, cacheDir)));
    for (const result of results) assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.equal(registry.counters.byKind.zip, 2, "each zip fetched from upstream exactly once");
    const first = await readLock(boxes[0]!.workDir);
    for (const box of boxes) assert.equal(await readLock(box.workDir), first);
  } finally {
    for (const box of boxes) await box.close();
  }
});

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name:
    "tfcache run: a zip that does not match its signed checksum fails the init and caches nothing",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  if (skipWithoutTerraform("run e2e tampered")) return;
  await using registry = await startRegistry();
  await using box = await createTerraformSandbox({ sslCertFile: registry.caFile });
  await writeProviders(box.workDir, registry);
  registry.faults.set({ tamperedZip: true }, { provider: "tfcache/alpha" });
  const cacheDir = join(box.root, "cache");
  const run = await tfcacheInit(box, cacheDir);
  assert.notEqual(run.code, 0);
  const output = run.stdout + run.stderr;
  assert.match(output, /tfcache\/alpha/);
  assert.match(output, /checksum|does not match|expected/i);
  const zips: string[] = [];
  for await (const entry of walkFiles(cacheDir)) {
    // Lock files stay (they are never removed while the cache is in use); nothing else may.
    if (entry.includes("terraform-provider-alpha") && !entry.endsWith(".lock")) zips.push(entry);
  }
  assert.deepEqual(zips, [], "no alpha zip (or sidecar, or temp) left in the cache");
});

// Windows: the stand-in command is a #!/bin/sh script.
Deno.test({
  name: "tfcache run: exits with the command's status and removes its CLI config",
  ignore: NO_SHEBANG_SCRIPTS,
}, async () => {
  await using box = await createTerraformSandbox();
  const cacheDir = join(box.root, "cache");
  const script = join(box.root, "probe.sh");
  await Deno.writeTextFile(
    script,
    '#!/bin/sh\necho "$TF_CLI_CONFIG_FILE" > "$1"\n' +
      // GNU stat (Linux) or BSD stat (macOS).
      '(stat -c %a "$TF_CLI_CONFIG_FILE" 2>/dev/null || stat -f %Lp "$TF_CLI_CONFIG_FILE") >> "$1"\n' +
      'cat "$TF_CLI_CONFIG_FILE" >> "$1"\nexit 7\n',
  );
  await Deno.chmod(script, 0o755);
  const probe = join(box.root, "probe.txt");
  await Deno.writeTextFile(box.cliConfigFile, 'plugin_cache_dir = "/tmp/keep-me"\n');
  const run = await runCli(["run", "--cache-dir", cacheDir, "--", script, probe], {
    cwd: box.workDir,
    env: box.env,
  });
  assert.equal(run.code, 7, run.stderr);
  const [configPath = "", mode, ...rest] = (await Deno.readTextFile(probe)).split("\n");
  assert.equal(mode, "600");
  const text = rest.join("\n");
  assert.match(text, /plugin_cache_dir = "\/tmp\/keep-me"/, "the user's configuration is kept");
  assert.match(text, /host "registry.terraform.io"/);
  assert.match(text, /"providers.v1" = "http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{20,}\/registry\//);
  await assert.rejects(Deno.stat(configPath), Deno.errors.NotFound);
});

async function* walkFiles(dir: string): AsyncGenerator<string> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* walkFiles(path);
    else yield path;
  }
}

/**
 * `tfcache lock` against the fake upstream registry: the hash sets, merging, upgrades, errors,
 * warm runs, and `tfcache run --lock-platform`. In-process through a real cache runtime, plus a
 * few runs of the CLI as a child process for exit codes and messages.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startCacheRuntime } from "../../src/cli/cache_runtime.ts";
import { lockWithRuntime } from "../../src/cli/lock.ts";
import {
  ChecksumsSignatureError,
  LockedVersionMismatchError,
  LockProviderNotFoundError,
  NoMatchingVersionError,
  PlatformNotPublishedError,
  ProviderNotRequiredError,
} from "../../src/cli/lock_errors.ts";
import type { ProgressSink } from "../../src/cli/lock_progress.ts";
import type { LockProvidersResult } from "../../src/cli/lock_run.ts";
import { parsePlatform } from "../../src/registry/platform.ts";
import { type FakeRegistry, startFakeRegistry } from "../support/fake_registry.ts";
import { parseLockFile, writeConfig } from "../support/terraform.ts";
import { exists } from "./_support/alpha_beta.ts";
import { runCli } from "./_support/run_cli.ts";
import { NO_TRUE_COMMAND } from "../support/os_guards.ts";

const PLATFORMS = ["linux_amd64", "darwin_arm64", "windows_amd64"];

async function startRegistry(): Promise<FakeRegistry> {
  return await startFakeRegistry({
    providers: [
      { namespace: "tfcache", type: "alpha", versions: ["1.0.0", "1.1.0"], platforms: PLATFORMS },
      { namespace: "tfcache", type: "beta", versions: ["0.3.0"], platforms: PLATFORMS },
    ],
  });
}

const quiet: ProgressSink = {
  start() {},
  progress() {},
  finish() {},
  message() {},
  close() {},
};

interface Fixture extends AsyncDisposable {
  registry: FakeRegistry;
  root: string;
  dir: string;
  cacheDir: string;
  lock(platforms: string[], more?: { upgrade?: boolean; providers?: string[] }): Promise<
    LockProvidersResult
  >;
  lockText(): Promise<string>;
}

async function fixture(): Promise<Fixture> {
  const registry = await startRegistry();
  const root = await Deno.makeTempDir({ prefix: "tfcache-lock-test-" });
  const dir = join(root, "work");
  await Deno.mkdir(dir);
  const cacheDir = join(root, "cache");
  const close = async () => {
    await registry.close();
    await Deno.remove(root, { recursive: true });
  };
  return {
    registry,
    root,
    dir,
    cacheDir,
    async lock(platforms, more = {}) {
      await using runtime = await startCacheRuntime({
        cacheDir,
        env: { SSL_CERT_FILE: registry.caFile },
        log: () => {},
      });
      return await lockWithRuntime(runtime, cacheDir, {
        dir,
        platforms: platforms.map(parsePlatform),
        upgrade: more.upgrade ?? false,
        providers: more.providers ?? [],
        progress: quiet,
      });
    },
    lockText: () => Deno.readTextFile(join(dir, ".terraform.lock.hcl")),
    [Symbol.asyncDispose]: close,
  };
}

Deno.test({
  name: "lock: h1 per requested platform + zh of every platform; a warm run downloads no zip",
}, async () => {
  await using f = await fixture();
  const { registry } = f;
  await writeConfig(f.dir, [
    { source: `${registry.host}/tfcache/alpha`, version: "~> 1.0" },
    { source: `${registry.host}/tfcache/beta` },
  ]);
  const result = await f.lock(["linux_amd64", "darwin_arm64"]);
  assert.equal(result.written, true);
  assert.equal(result.packages.total, 4);
  assert.equal(registry.counters.byKind.zip, 4);
  const locks = parseLockFile(await f.lockText());
  for (const [type, version, constraints] of [["alpha", "1.1.0", "~> 1.0"], ["beta", "0.3.0"]]) {
    const expected = registry.expectedHashes(`tfcache/${type}`, version!);
    const entry = locks.get(`${registry.host}/tfcache/${type}`);
    assert.equal(entry?.version, version);
    assert.equal(entry?.constraints, constraints);
    const want = [
      expected.h1["linux_amd64"]!,
      expected.h1["darwin_arm64"]!,
      ...Object.values(expected.zh),
    ].sort();
    assert.deepEqual(entry?.hashes, want);
  }

  registry.counters.reset();
  const before = await f.lockText();
  const warm = await f.lock(["linux_amd64", "darwin_arm64"]);
  assert.equal(warm.written, false);
  assert.equal(warm.packages.cached, 4);
  assert.equal(registry.counters.byKind.zip, 0, "no zip from upstream on a warm run");
  assert.equal(await f.lockText(), before);
});

Deno.test({
  name: "lock: merges into an existing lock file, keeps the locked version, --upgrade moves on",
}, async () => {
  await using f = await fixture();
  const { registry } = f;
  await writeConfig(f.dir, [{ source: `${registry.host}/tfcache/alpha`, version: "~> 1.0" }]);
  const other = `${registry.host}/tfcache/gone`;
  await Deno.writeTextFile(
    join(f.dir, ".terraform.lock.hcl"),
    `# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "${registry.host}/tfcache/alpha" {
  version     = "1.0.0"
  constraints = "~> 1.0"
  hashes = [
    "h1:KeepMeKeepMeKeepMeKeepMeKeepMeKeepMeKeepMe=",
  ]
}

provider "${other}" {
  version = "9.0.0"
}
`,
  );
  await f.lock(["windows_amd64"]);
  let locks = parseLockFile(await f.lockText());
  const v100 = registry.expectedHashes("tfcache/alpha", "1.0.0");
  assert.equal(locks.get(`${registry.host}/tfcache/alpha`)?.version, "1.0.0");
  assert.deepEqual(
    locks.get(`${registry.host}/tfcache/alpha`)?.hashes,
    [
      "h1:KeepMeKeepMeKeepMeKeepMeKeepMeKeepMeKeepMe=",
      v100.h1["windows_amd64"]!,
      ...Object.values(v100.zh),
    ].sort(),
  );
  assert.equal(locks.get(other)?.version, "9.0.0", "providers not locked are untouched");

  await f.lock(["linux_amd64"], { upgrade: true });
  locks = parseLockFile(await f.lockText());
  const v110 = registry.expectedHashes("tfcache/alpha", "1.1.0");
  assert.equal(locks.get(`${registry.host}/tfcache/alpha`)?.version, "1.1.0");
  assert.deepEqual(
    locks.get(`${registry.host}/tfcache/alpha`)?.hashes,
    [v110.h1["linux_amd64"]!, ...Object.values(v110.zh)].sort(),
    "a new version drops the old version's hashes",
  );

  // The locked version no longer meets a tightened constraint: error, file unchanged.
  await writeConfig(f.dir, [{ source: `${registry.host}/tfcache/alpha`, version: "< 1.1.0" }]);
  const text = await f.lockText();
  await assert.rejects(f.lock(["linux_amd64"]), LockedVersionMismatchError);
  assert.equal(await f.lockText(), text);
});

Deno.test({
  name: "lock: constraints of a root and a child module that conflict name both places",
}, async () => {
  await using f = await fixture();
  const { registry } = f;
  await writeConfig(
    f.dir,
    [{ source: `${registry.host}/tfcache/alpha`, version: "~> 1.0.0" }],
    [{ name: "net", source: "./modules/net" }],
  );
  await Deno.mkdir(join(f.dir, "modules", "net"), { recursive: true });
  await writeConfig(join(f.dir, "modules", "net"), [
    { source: `${registry.host}/tfcache/alpha`, version: ">= 1.1.0" },
  ]);
  await assert.rejects(f.lock(["linux_amd64"]), (error: unknown) => {
    assert.ok(error instanceof NoMatchingVersionError);
    assert.match(error.message, /"~> 1\.0\.0" from main\.tf:\d+ \(root module\)/);
    assert.match(error.message, /">= 1\.1\.0" from modules\/net\/main\.tf:\d+ \(module\.net\)/);
    return true;
  });
  assert.equal(await exists(join(f.dir, ".terraform.lock.hcl")), false);
});

Deno.test({
  name: "lock: an invalid SHA256SUMS signature fails and writes nothing",
}, async () => {
  await using f = await fixture();
  const { registry } = f;
  await writeConfig(f.dir, [{ source: `${registry.host}/tfcache/alpha` }]);
  registry.faults.set({ badSignature: true });
  await assert.rejects(f.lock(["linux_amd64"]), (error: unknown) => {
    assert.ok(error instanceof ChecksumsSignatureError, String(error));
    assert.match(error.message, /tfcache\/alpha 1\.1\.0/);
    assert.match(error.message, /key id [0-9A-F]{16}/);
    return true;
  });
  assert.equal(await exists(join(f.dir, ".terraform.lock.hcl")), false);
});

Deno.test({
  name: "lock: unknown provider, unpublished platform and --provider errors are clear",
}, async () => {
  await using f = await fixture();
  const { registry } = f;
  await writeConfig(f.dir, [{ source: `${registry.host}/tfcache/nosuch`, version: "1.0.0" }]);
  await assert.rejects(f.lock(["linux_amd64"]), (error: unknown) => {
    assert.ok(error instanceof LockProviderNotFoundError, String(error));
    assert.match(error.message, /tfcache\/nosuch was not found/);
    assert.match(error.message, /main\.tf:\d+/);
    return true;
  });

  await writeConfig(f.dir, [{ source: `${registry.host}/tfcache/beta` }]);
  await assert.rejects(f.lock(["windows_arm64"]), (error: unknown) => {
    assert.ok(error instanceof PlatformNotPublishedError, String(error));
    assert.match(
      error.message,
      /provider .*\/tfcache\/beta 0\.3\.0 is not available for windows_arm64/,
    );
    return true;
  });
  await assert.rejects(
    f.lock(["linux_amd64"], { providers: ["example.com/x/y"] }),
    ProviderNotRequiredError,
  );
  assert.equal(await exists(join(f.dir, ".terraform.lock.hcl")), false);
  // --provider limits the run to that provider.
  await writeConfig(f.dir, [
    { source: `${registry.host}/tfcache/alpha` },
    { source: `${registry.host}/tfcache/beta` },
  ]);
  await f.lock(["linux_amd64"], { providers: [`${registry.host}/tfcache/beta`] });
  assert.deepEqual([...parseLockFile(await f.lockText()).keys()], [
    `${registry.host}/tfcache/beta`,
  ]);
});

// Windows: runs `tfcache run -- true` (see os_guards.ts).
Deno.test({
  name: "tfcache lock CLI: exit codes and messages; run --lock-platform completes the lock file",
  ignore: NO_TRUE_COMMAND,
}, async () => {
  await using f = await fixture();
  const { registry } = f;
  const env = {
    SSL_CERT_FILE: registry.caFile,
    HOME: f.root,
    TF_CLI_CONFIG_FILE: join(f.root, "rc"),
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  };
  await Deno.writeTextFile(env.TF_CLI_CONFIG_FILE, "");
  await writeConfig(f.dir, [{ source: `${registry.host}/tfcache/alpha`, version: ">= 5.0" }]);
  const failed = await runCli(["lock", "--cache-dir", f.cacheDir, "--platform", "linux_amd64"], {
    cwd: f.dir,
    env,
  });
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stderr, /No available version of provider .*tfcache\/alpha/);
  assert.match(failed.stderr, /">= 5\.0" from main\.tf:\d+/);

  const usage = await runCli(["lock", "--platform", "nope"], { cwd: f.dir, env });
  assert.equal(usage.code, 2);
  const help = await runCli(["lock", "--help"], { cwd: f.dir, env });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--platform OS_ARCH/);

  await writeConfig(f.dir, [{ source: `${registry.host}/tfcache/alpha` }]);
  const run = await runCli(
    [
      "run",
      "--cache-dir",
      f.cacheDir,
      "--lock-platform",
      "darwin_arm64",
      "--lock-platform",
      "windows_amd64",
      "--",
      "true",
    ],
    { cwd: f.dir, env },
  );
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /tfcache\/alpha 1\.1\.0 darwin_arm64: downloaded/);
  const expected = registry.expectedHashes("tfcache/alpha", "1.1.0");
  assert.deepEqual(
    parseLockFile(await f.lockText()).get(`${registry.host}/tfcache/alpha`)?.hashes,
    [expected.h1["darwin_arm64"]!, expected.h1["windows_amd64"]!, ...Object.values(expected.zh)]
      .sort(),
  );
});

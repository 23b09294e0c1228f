/**
 * End-to-end test of module installation through `tfcache run -- terraform init` with a real
 * terraform: registry modules whose downloads point at an HTTP tarball and at a git repository,
 * and `git::` sources written in `module` blocks (with and without `//subdir`), against the fake
 * registry and a local smart-HTTP git server. SKIPs (with a line saying so) when terraform is
 * not on PATH.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { git } from "../../src/mirrors/git_fetch.ts";
import { DEFAULT_ENCODE_COLONS, toDiskPath } from "../../src/proxy/_key_path.ts";
import { makeRepo, serveGit } from "../mirrors/_support/git_repos.ts";
import { type FakeRegistry, startFakeRegistry } from "../support/fake_registry.ts";
import { diffFiles, type ModuleTreeSnapshot, snapshotModules } from "../support/module_tree.ts";
import {
  createTerraformSandbox,
  terraformInitOk,
  terraformPath,
  type TerraformSandbox,
  writeConfig,
} from "../support/terraform.ts";
import { runCli } from "./_support/run_cli.ts";

/** Writes the configuration: three registry modules and two `git::` modules. */
async function writeModules(dir: string, registry: FakeRegistry, gitUrl: string): Promise<void> {
  await writeConfig(dir, [], [
    { name: "archive", source: `${registry.host}/tfcache/archive/aws`, version: "~> 1.0" },
    { name: "relative", source: `${registry.host}/tfcache/relative/aws`, version: "2.0.0" },
    { name: "gitmod", source: `${registry.host}/tfcache/gitmod/aws`, version: "1.0.0" },
    { name: "direct_git", source: `git::${gitUrl}net.git?ref=v1.0.0` },
    { name: "direct_sub", source: `git::${gitUrl}other.git//modules/child?ref=v1.0.0` },
  ]);
}

interface InitResult {
  code: number;
  output: string;
  upstreamRequests: number;
}

async function tfcacheInit(box: TerraformSandbox, cacheDir: string): Promise<InitResult> {
  const report = join(box.root, "report.json");
  const run = await runCli(
    ["run", "--cache-dir", cacheDir, "--report-json", report, "--", "terraform", "init"].concat(
      ["-input=false", "-no-color"],
    ),
    { cwd: box.workDir, env: box.env },
  );
  const output = `${run.stdout}\n${run.stderr}`;
  let upstreamRequests = -1;
  try {
    const parsed = JSON.parse(await Deno.readTextFile(report)) as {
      stats?: { upstreamRequests?: number };
    };
    upstreamRequests = parsed.stats?.upstreamRequests ?? -1;
  } catch {
    // no report: the assertion on `code` explains why
  }
  return { code: run.code, output, upstreamRequests };
}

async function headOf(dir: string): Promise<string> {
  return (await git(["rev-parse", "HEAD"], { cwd: dir })).trim();
}

/**
 * Asserts that an install through tfcache left the same module trees as the direct install.
 *
 * `.git` directories and `modules.json` are handled apart:
 * - Terraform 1.11 keeps go-getter's clone, `.git` included, only for `git::` sources written in
 *   `module` blocks; those are still cloned by terraform (through the cache's git mirror), so
 *   they keep `.git` both ways. Their contents differ (pack layout, index timestamps, the
 *   remote's fetch history) and are not compared; the checked-out commit must be the same.
 *   A registry module whose download points at git has no `.git` after a direct install, and
 *   none through the cache either (the cache packs the checkout without `.git`).
 * - `modules.json` records each module's key, source as written, version and directory; none
 *   of them depends on where the bytes came from, so the manifests must be equal.
 */
async function assertSameModules(
  direct: ModuleTreeSnapshot,
  directDir: string,
  cachedDir: string,
  label: string,
): Promise<void> {
  const cached = await snapshotModules(cachedDir);
  assert.deepEqual(diffFiles(direct.files, cached.files), [], `${label}: module files`);
  assert.deepEqual(direct.gitDirs, ["direct_git/.git", "direct_sub/.git"]);
  assert.deepEqual(cached.gitDirs, direct.gitDirs, `${label}: .git dirs`);
  for (const name of ["direct_git", "direct_sub"]) {
    const modules = join(".terraform", "modules", name);
    assert.equal(
      await headOf(join(cachedDir, modules)),
      await headOf(join(directDir, modules)),
      `${label}: ${name} is checked out at the same commit`,
    );
  }
  assert.deepEqual(cached.manifest, direct.manifest, `${label}: modules.json`);
}

Deno.test("tfcache run: registry (tarball and git) and git:: modules install like a direct init, then offline", async () => {
  if (terraformPath() === undefined) {
    console.log("SKIP: run modules e2e: terraform not on PATH");
    return;
  }
  const repoRoot = await Deno.makeTempDir({ prefix: "tfcache-repos-" });
  try {
    const net = await makeRepo(repoRoot, "net");
    await makeRepo(repoRoot, "other");
    const gitServer = serveGit(repoRoot);
    let gitRunning = true;
    const stopGit = async () => {
      if (gitRunning) await gitServer.stop();
      gitRunning = false;
    };
    try {
      await using registry = await startFakeRegistry({
        modules: [
          {
            namespace: "tfcache",
            name: "archive",
            system: "aws",
            versions: ["1.0.0", "1.1.0"],
            files: (version) => ({
              "main.tf": `output "version" { value = "${version}" }\n`,
              "modules/inner/main.tf": 'output "inner" { value = "inner" }\n',
              "README.md": "# archive\n",
            }),
          },
          {
            namespace: "tfcache",
            name: "relative",
            system: "aws",
            versions: ["2.0.0"],
            downloadForm: "both",
            relativeLocation: true,
          },
          {
            namespace: "tfcache",
            name: "gitmod",
            system: "aws",
            versions: ["1.0.0"],
            sourceKind: "git",
            gitUrl: `git::${gitServer.url}net.git//modules/child?ref=v{version}`,
          },
        ],
      });
      await using direct = await createTerraformSandbox({ sslCertFile: registry.caFile });
      await using cold = await createTerraformSandbox({ sslCertFile: registry.caFile });
      await using warm = await createTerraformSandbox({ sslCertFile: registry.caFile });
      await using offline = await createTerraformSandbox({ sslCertFile: registry.caFile });
      const cacheDir = join(cold.root, "cache");
      for (const box of [direct, cold, warm, offline]) {
        await writeModules(box.workDir, registry, gitServer.url);
      }

      await terraformInitOk([], {
        cwd: direct.workDir,
        env: direct.env,
      });
      const expected = await snapshotModules(direct.workDir);
      assert.equal(
        await headOf(join(direct.workDir, ".terraform/modules/direct_git")),
        net.v1,
        "the direct install checked out tag v1.0.0",
      );
      registry.counters.reset();
      gitServer.requests.length = 0;

      // Cold: everything comes from upstream once, through the cache.
      const coldRun = await tfcacheInit(cold, cacheDir);
      assert.equal(coldRun.code, 0, coldRun.output);
      await assertSameModules(expected, direct.workDir, cold.workDir, "cold");
      assert.match(coldRun.output, /downloaded and cached/);
      assert.equal(registry.counters.byKind["module-download"], 3, "one download per module");
      assert.equal(registry.counters.byKind.archive, 2, "each tarball fetched once");
      assert.ok(gitServer.requests.length > 0, "the git server was used");
      assert.ok(coldRun.upstreamRequests > 0);
      const mirrors = await Array.fromAsync(Deno.readDir(join(cacheDir, "git-mirrors-http")));
      assert.deepEqual(mirrors.map((e) => e.name), [
        toDiskPath(gitServer.host, DEFAULT_ENCODE_COLONS),
      ]);

      // Warm, fresh directory, upstream still up: not one request reaches it.
      registry.counters.reset();
      gitServer.requests.length = 0;
      const warmRun = await tfcacheInit(warm, cacheDir);
      assert.equal(warmRun.code, 0, warmRun.output);
      await assertSameModules(expected, direct.workDir, warm.workDir, "warm");
      // Discovery documents are cached too (run.ts reads them to pass other services through
      // in the host blocks it writes): nothing at all reaches the registry.
      assert.deepEqual(
        registry.counters.log.map((r) => `${r.method} ${r.kind}`),
        [],
        "no requests reach the registry",
      );
      assert.deepEqual(gitServer.requests, [], "no git server requests");
      assert.equal(warmRun.upstreamRequests, 0, "the savings report counts no upstream request");
      assert.doesNotMatch(warmRun.output, /downloaded and cached/);

      // Registry and git server stopped: a fresh directory still initialises.
      await registry.stop();
      await stopGit();
      const offlineRun = await tfcacheInit(offline, cacheDir);
      assert.equal(offlineRun.code, 0, offlineRun.output);
      await assertSameModules(expected, direct.workDir, offline.workDir, "offline");
      assert.equal(offlineRun.upstreamRequests, 0);
    } finally {
      await stopGit();
    }
  } finally {
    await Deno.remove(repoRoot, { recursive: true });
  }
});

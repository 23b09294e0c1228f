/**
 * `tfcache lock` against a real terraform: the file it writes is byte-identical to the one
 * `terraform providers lock -platform=…` writes against the same upstream, and `terraform init`
 * accepts it. SKIPs (with a line saying so) when terraform is not on PATH.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startFakeRegistry } from "../support/fake_registry.ts";
import {
  createTerraformSandbox,
  runTerraform,
  terraformInitOk,
  terraformPath,
  writeConfig,
} from "../support/terraform.ts";
import { runCli } from "./_support/run_cli.ts";

const LOCK_PLATFORMS = ["linux_amd64", "darwin_arm64", "windows_amd64"];
const PUBLISHED = [...LOCK_PLATFORMS, "linux_arm64", "darwin_amd64"];

Deno.test("tfcache lock writes the same bytes as terraform providers lock, and init accepts it", async () => {
  if (terraformPath() === undefined) {
    console.log("SKIP: tfcache lock vs terraform providers lock: terraform not on PATH");
    return;
  }
  await using registry = await startFakeRegistry({
    providers: [
      { namespace: "tfcache", type: "alpha", versions: ["1.0.0", "1.1.0"], platforms: PUBLISHED },
      { namespace: "tfcache", type: "beta", versions: ["0.2.0", "0.3.0"], platforms: PUBLISHED },
      { namespace: "other", type: "gamma", versions: ["2.0.0", "2.1.0"], platforms: PUBLISHED },
    ],
  });
  await using direct = await createTerraformSandbox({ sslCertFile: registry.caFile });
  await using ours = await createTerraformSandbox({ sslCertFile: registry.caFile });
  for (const box of [direct, ours]) {
    await writeConfig(box.workDir, [
      { source: `${registry.host}/tfcache/alpha`, version: "~> 1.0" },
      { source: `${registry.host}/tfcache/beta`, version: ">= 0.2, < 1.0" },
      { source: `${registry.host}/other/gamma` },
    ]);
  }
  const tf = await runTerraform(
    ["providers", "lock", "-no-color", ...LOCK_PLATFORMS.map((p) => `-platform=${p}`)],
    { cwd: direct.workDir, env: direct.env },
  );
  assert.equal(tf.code, 0, tf.stderr + tf.stdout);
  const cacheDir = join(ours.root, "cache");
  const run = await runCli(
    ["lock", "--cache-dir", cacheDir, ...LOCK_PLATFORMS.flatMap((p) => ["--platform", p])],
    { cwd: ours.workDir, env: ours.env },
  );
  assert.equal(run.code, 0, run.stderr);
  const theirs = await Deno.readFile(join(direct.workDir, ".terraform.lock.hcl"));
  const mine = await Deno.readFile(join(ours.workDir, ".terraform.lock.hcl"));
  assert.equal(new TextDecoder().decode(mine), new TextDecoder().decode(theirs));
  assert.deepEqual(mine, theirs, "byte-identical");

  // terraform init on this machine accepts the file (plain CLI config trusting the fake's CA).
  await terraformInitOk([], {
    cwd: ours.workDir,
    env: ours.env,
  });
  assert.deepEqual(
    await Deno.readFile(join(ours.workDir, ".terraform.lock.hcl")),
    theirs,
    "init had nothing to add",
  );
});

/**
 * `tfcache lock` against `terraform providers lock`: 5 providers × 5 platforms from the fake
 * upstream registry, its package downloads throttled to 100 MB/s per connection, with a cold
 * and then a warm tfcache cache. Both tools run as CLIs (child processes); the lock files they
 * write are checked to be byte-identical. Prints wall times and ratios.
 *
 * Run: `deno run --allow-all bench/lock_bench.ts` (terraform on PATH; without it only the
 * tfcache figures are printed). Set `TFCACHE_LOCK_BENCH_MIB` to change the package size
 * (default 20 MiB).
 *
 * @module
 */

import { join } from "node:path";
import { startFakeRegistry } from "../tests/support/fake_registry.ts";
import {
  createTerraformSandbox,
  runTerraform,
  terraformPath,
  type TerraformSandbox,
  writeConfig,
} from "../tests/support/terraform.ts";
import { runCli } from "../tests/cli/_support/run_cli.ts";

const MiB = 1024 * 1024;
const SIZE_MIB = Number(Deno.env.get("TFCACHE_LOCK_BENCH_MIB") ?? "20");
const PLATFORMS = ["linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64", "windows_amd64"];
const TYPES = ["alpha", "bravo", "charlie", "delta", "echo"];
const THROTTLE = 100e6;

const registry = await startFakeRegistry({
  providers: TYPES.map((type) => ({
    namespace: "bench",
    type,
    versions: ["1.0.0"],
    platforms: PLATFORMS,
    sizeBytes: SIZE_MIB * MiB,
  })),
  memoryCacheMaxBytes: (TYPES.length * PLATFORMS.length + 2) * (SIZE_MIB + 1) * MiB,
});
const boxes: TerraformSandbox[] = [];

async function box(): Promise<TerraformSandbox> {
  const b = await createTerraformSandbox({ sslCertFile: registry.caFile });
  boxes.push(b);
  await writeConfig(b.workDir, TYPES.map((type) => ({ source: `${registry.host}/bench/${type}` })));
  return b;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, (performance.now() - started) / 1000];
}

try {
  // Build every zip once (unthrottled, in process) so neither tool pays for generating them.
  for (const type of TYPES) {
    for (const p of PLATFORMS) {
      const url =
        `${registry.url}/files/bench/${type}/1.0.0/terraform-provider-${type}_1.0.0_${p}.zip`;
      const response = await registry.handler(new Request(url));
      await response.body?.cancel();
    }
  }
  registry.faults.set({ throttleBytesPerSec: THROTTLE });
  const total = TYPES.length * PLATFORMS.length;
  console.log(
    `tfcache lock vs terraform providers lock: ${TYPES.length} providers x ${PLATFORMS.length} ` +
      `platforms = ${total} packages of ${SIZE_MIB} MiB each (${total * SIZE_MIB} MiB), ` +
      `upstream throttled to ${THROTTLE / 1e6} MB/s per download`,
  );
  const platformArgs = PLATFORMS.flatMap((p) => ["--platform", p]);
  const cacheRoot = await box();
  const cacheDir = join(cacheRoot.root, "cache");

  const cold = await box();
  registry.counters.reset();
  const [coldRun, coldSec] = await timed(() =>
    runCli(["lock", "--cache-dir", cacheDir, ...platformArgs], { cwd: cold.workDir, env: cold.env })
  );
  if (coldRun.code !== 0) throw new Error(`tfcache lock (cold) failed:\n${coldRun.stderr}`);
  const coldZips = registry.counters.byKind.zip;

  const warm = await box();
  registry.counters.reset();
  const [warmRun, warmSec] = await timed(() =>
    runCli(["lock", "--cache-dir", cacheDir, ...platformArgs], { cwd: warm.workDir, env: warm.env })
  );
  if (warmRun.code !== 0) throw new Error(`tfcache lock (warm) failed:\n${warmRun.stderr}`);
  const warmZips = registry.counters.byKind.zip;
  const ours = await Deno.readTextFile(join(cold.workDir, ".terraform.lock.hcl"));
  if ((await Deno.readTextFile(join(warm.workDir, ".terraform.lock.hcl"))) !== ours) {
    throw new Error("cold and warm tfcache lock files differ");
  }

  const rows: string[] = [];
  rows.push(
    `  tfcache lock, cold cache   ${
      coldSec.toFixed(2).padStart(7)
    } s  (${coldZips} zips from upstream)`,
  );
  rows.push(
    `  tfcache lock, warm cache   ${
      warmSec.toFixed(2).padStart(7)
    } s  (${warmZips} zips from upstream)`,
  );
  if (terraformPath() === undefined) {
    console.log(rows.join("\n"));
    console.log("SKIP: terraform providers lock: terraform not on PATH");
  } else {
    const tf = await box();
    registry.counters.reset();
    const [tfRun, tfSec] = await timed(() =>
      runTerraform(["providers", "lock", "-no-color", ...PLATFORMS.map((p) => `-platform=${p}`)], {
        cwd: tf.workDir,
        env: tf.env,
      })
    );
    if (tfRun.code !== 0) throw new Error(`terraform providers lock failed:\n${tfRun.stderr}`);
    const tfZips = registry.counters.byKind.zip;
    const theirs = await Deno.readTextFile(join(tf.workDir, ".terraform.lock.hcl"));
    rows.unshift(
      `  terraform providers lock   ${
        tfSec.toFixed(2).padStart(7)
      } s  (${tfZips} zips from upstream)`,
    );
    console.log(rows.join("\n"));
    console.log(
      `  ratios: terraform / tfcache cold = ${(tfSec / coldSec).toFixed(2)}x, ` +
        `terraform / tfcache warm = ${(tfSec / warmSec).toFixed(2)}x`,
    );
    console.log(`  lock files byte-identical: ${theirs === ours ? "yes" : "NO"}`);
  }
} finally {
  for (const b of boxes) await b.close();
  await registry.close();
}

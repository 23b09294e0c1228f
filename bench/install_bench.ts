/**
 * Installing providers into many working directories from a WARM cache:
 *
 * - `tfcache providers install`, one directory after the other;
 * - `terraform init` with `plugin_cache_dir` (the baseline), one after the other — terraform
 *   documents its plugin cache as unsafe for concurrent use;
 * - `tfcache providers install` in all directories at once (one process each).
 *
 * The configuration needs `PROVIDERS` providers of `SIZE` each (local platform) from the fake
 * upstream registry. Before timing, one warm-up install fills tfcache's cache (zips + unpacked
 * packages) and one warm-up `terraform init` fills terraform's plugin cache; the lock file it
 * writes is copied into every working directory (a checkout with a committed lock file), so both
 * tools only verify the cached packages against the lock and link them. tfcache figures include
 * starting `deno run main.ts` for every directory.
 *
 * Run: `deno run --allow-all bench/install_bench.ts`. Without terraform on PATH it prints a SKIP
 * line and exits 0. `TFCACHE_BENCH_INSTALL_MIB` overrides the provider size (MiB), and
 * `TFCACHE_BENCH_INSTALL_DIRS` the number of working directories. Everything binds to 127.0.0.1
 * and lives in one temporary directory that is removed at the end.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startFakeRegistry } from "../tests/support/fake_registry.ts";
import {
  localPlatform,
  terraformEnv,
  terraformPath,
  writeConfig,
} from "../tests/support/terraform.ts";
import { denoEnv } from "../tests/cli/_support/run_cli.ts";

const MiB = 1024 * 1024;
const PROVIDERS = 5;
const DEFAULT_SIZE_MIB = 100;
const DEFAULT_DIRS = 10;
const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));

interface Outcome {
  code: number;
  output: string;
}

function intFromEnv(name: string, fallback: number): number {
  const raw = Deno.env.get(name);
  const n = raw === undefined ? NaN : Number.parseInt(raw, 10);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

async function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<Outcome> {
  const out = await new Deno.Command(command, {
    args,
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, output: text.decode(out.stdout) + text.decode(out.stderr) };
}

function check(what: string, outcome: Outcome): void {
  if (outcome.code !== 0) {
    throw new Error(`${what} failed (exit ${outcome.code}):\n${outcome.output}`);
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** Runs the benchmark and prints its figures. */
async function main(): Promise<void> {
  if (terraformPath() === undefined) {
    console.log("SKIP: bench/install_bench.ts needs terraform on PATH");
    return;
  }
  const sizeMiB = intFromEnv("TFCACHE_BENCH_INSTALL_MIB", DEFAULT_SIZE_MIB);
  const dirs = intFromEnv("TFCACHE_BENCH_INSTALL_DIRS", DEFAULT_DIRS);
  const platform = localPlatform();
  const root = await Deno.makeTempDir({ prefix: "tfcache-install-bench-" });
  try {
    await using registry = await startFakeRegistry({
      providers: Array.from({ length: PROVIDERS }, (_, i) => ({
        namespace: "bench",
        type: `p${i}`,
        versions: ["1.0.0"],
        platforms: [platform],
        sizeBytes: sizeMiB * MiB,
      })),
      memoryCacheMaxBytes: (PROVIDERS * sizeMiB + 64) * MiB,
    });
    await registry.warm();
    const requirements = registry.providers.map((p) => ({
      source: `${registry.host}/bench/${p.type}`,
      version: "1.0.0",
    }));

    const home = join(root, "home");
    const pluginCache = join(root, "plugin-cache");
    const tfrc = join(root, "terraformrc");
    const cacheDir = join(root, "tfcache");
    await Deno.mkdir(home);
    await Deno.mkdir(pluginCache);
    await Deno.writeTextFile(tfrc, `plugin_cache_dir = ${JSON.stringify(pluginCache)}\n`);
    const baseEnv = terraformEnv({ home, cliConfigFile: tfrc, sslCertFile: registry.caFile });
    const tfcacheEnv = {
      ...denoEnv(),
      ...baseEnv,
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
    };
    const tfcacheArgs = (dir: string) => [
      "run",
      "--allow-all",
      "--quiet",
      MAIN_TS,
      "providers",
      "install",
      "--cache-dir",
      cacheDir,
      dir,
    ];
    const makeDir = async (name: string): Promise<string> => {
      const dir = join(root, name);
      await Deno.mkdir(dir);
      await writeConfig(dir, requirements);
      return dir;
    };

    console.log(
      `install bench: ${PROVIDERS} providers × ${sizeMiB} MiB (${platform}) into ${dirs} working directories, warm caches` +
        (sizeMiB !== DEFAULT_SIZE_MIB || dirs !== DEFAULT_DIRS
          ? ` (reduced from ${PROVIDERS} × ${DEFAULT_SIZE_MIB} MiB × ${DEFAULT_DIRS} dirs)`
          : ""),
    );

    // Warm-up: terraform fills its plugin cache; tfcache fills its cache and unpacked packages.
    const warmTf = await makeDir("warm-terraform");
    const tfWarmMs = await timed(async () =>
      check(
        "warm-up terraform init",
        await run(terraformPath()!, ["init", "-input=false", "-no-color"], warmTf, baseEnv),
      )
    );
    const lockText = await Deno.readTextFile(join(warmTf, ".terraform.lock.hcl"));
    const warmTc = await makeDir("warm-tfcache");
    const tcWarmMs = await timed(async () =>
      check(
        "warm-up tfcache providers install",
        await run(Deno.execPath(), tfcacheArgs(warmTc), warmTc, tfcacheEnv),
      )
    );
    if (await Deno.readTextFile(join(warmTc, ".terraform.lock.hcl")) !== lockText) {
      throw new Error("tfcache wrote a different lock file than terraform");
    }
    console.log(
      `warm-up (cold caches, not compared): terraform init ${
        seconds(tfWarmMs)
      }, tfcache providers install ${seconds(tcWarmMs)}`,
    );

    const prepare = async (prefix: string): Promise<string[]> => {
      const out: string[] = [];
      for (let i = 0; i < dirs; i++) {
        const dir = await makeDir(`${prefix}-${i}`);
        await Deno.writeTextFile(join(dir, ".terraform.lock.hcl"), lockText);
        out.push(dir);
      }
      return out;
    };

    const tcSerialDirs = await prepare("tfcache-serial");
    const tfSerialDirs = await prepare("terraform-serial");
    const tcParallelDirs = await prepare("tfcache-parallel");
    registry.counters.reset();

    const tcSerialMs = await timed(async () => {
      for (const dir of tcSerialDirs) {
        check(
          `tfcache providers install ${dir}`,
          await run(Deno.execPath(), tfcacheArgs(dir), dir, tfcacheEnv),
        );
      }
    });
    const tfSerialMs = await timed(async () => {
      for (const dir of tfSerialDirs) {
        check(
          `terraform init ${dir}`,
          await run(terraformPath()!, ["init", "-input=false", "-no-color"], dir, baseEnv),
        );
      }
    });
    const tcParallelMs = await timed(async () => {
      const results = await Promise.all(
        tcParallelDirs.map((dir) => run(Deno.execPath(), tfcacheArgs(dir), dir, tfcacheEnv)),
      );
      results.forEach((r, i) =>
        check(`parallel tfcache providers install ${tcParallelDirs[i]}`, r)
      );
    });
    for (const dir of [...tcSerialDirs, ...tfSerialDirs, ...tcParallelDirs]) {
      if (await Deno.readTextFile(join(dir, ".terraform.lock.hcl")) !== lockText) {
        throw new Error(`the lock file in ${dir} changed`);
      }
    }

    const startupMs = await timed(async () => {
      check(
        "tfcache --version",
        await run(
          Deno.execPath(),
          ["run", "--allow-all", "--quiet", MAIN_TS, "--version"],
          root,
          tfcacheEnv,
        ),
      );
    });
    console.log(`upstream zip requests during the timed runs: ${registry.counters.byKind.zip}`);
    console.log(`tfcache process start-up (deno run main.ts --version): ${seconds(startupMs)}`);
    console.log("");
    const rows: [string, number][] = [
      [`terraform init + plugin_cache_dir, serial (baseline)`, tfSerialMs],
      [`tfcache providers install, serial`, tcSerialMs],
      [`tfcache providers install, ${dirs} processes in parallel`, tcParallelMs],
    ];
    const width = Math.max(...rows.map(([name]) => name.length));
    for (const [name, ms] of rows) {
      console.log(
        `${name.padEnd(width)}  ${seconds(ms).padStart(9)}  ${
          seconds(ms / dirs).padStart(8)
        }/dir  ${(ms / tfSerialMs).toFixed(2)}× baseline`,
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await main();

/**
 * Wall time and upstream bytes of real `terraform init` runs: straight to the registry
 * (`direct`, the baseline), with terraform's own plugin cache (`TF_PLUGIN_CACHE_DIR`), and
 * through `tfcache run`: as users run it (`tfcache`, which pre-installs the lock file's providers
 * from its unpacked cache before `init`) and with `--no-preinstall` (terraform downloads every
 * zip from the cache over loopback and unpacks it).
 *
 * The configuration needs 3 providers of 50 MiB each (local platform) from the fake upstream
 * registry, which paces every artifact response at 100 MB/s (a fast link, so the figures show
 * what each setup costs beyond the transfer) and has every zip built beforehand (`warm()`).
 *
 * 1. One init at a time, each in a fresh working directory, median of `TFCACHE_BENCH_REPS`
 *    (default 3) rounds with a fresh cache each round: `cold` (empty cache, no lock file),
 *    `warm` (the cache from cold and the lock file cold wrote, like a checkout with a committed
 *    lock file), `warm again` (the same in another fresh directory: the steady state, where
 *    tfcache's unpacked cache already holds the packages), `warm, no lock` (the cache, no lock
 *    file).
 * 2. 8 inits started at once in 8 fresh working directories with the lock file, sharing one
 *    empty cache (tfcache's cache dir; one `TF_PLUGIN_CACHE_DIR`): wall time until the last
 *    finishes and bytes fetched from upstream. Terraform documents its plugin cache as unsafe
 *    for concurrent use, so failed inits are counted, not fatal.
 *
 * tfcache figures include starting `deno run main.ts` (printed once). Everything binds to
 * 127.0.0.1 and lives in one temporary directory that is removed at the end.
 *
 * Run: `deno task bench:init` (`deno run --allow-all bench/init_bench.ts`). Without terraform on
 * PATH it prints a SKIP line and exits 0. Afterwards it runs `bench/_init_modules.ts`'s
 * `runModuleInitBench({ reps })` when that file exists (same `TFCACHE_BENCH_REPS`).
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatBytes } from "../src/proxy/stats.ts";
import { type FakeRegistry, startFakeRegistry } from "../tests/support/fake_registry.ts";
import {
  localPlatform,
  type ProviderRequirement,
  terraformPath,
} from "../tests/support/terraform.ts";
import {
  INIT_SETUPS,
  type InitOutcome,
  type InitSetup,
  runInit,
  setupSlug,
  tfcacheStartupMs,
} from "./_support/init_runner.ts";

const MiB = 1024 * 1024;
const PROVIDER_COUNT = 3;
const PROVIDER_SIZE = 50 * MiB;
const THROTTLE_BYTES_PER_SEC = 100e6;
const PARALLEL = 8;
const DEFAULT_REPS = 3;
const MAX_REPS = 10;

/** The single-init phases, in the order they run within a round. */
const PHASES = ["cold", "warm", "warm again", "warm, no lock"] as const;
type Phase = typeof PHASES[number];

/** One measured init (or one parallel batch). */
interface Sample {
  durationMs: number;
  upstreamBytes: number;
  failures: number;
  firstFailure: string | undefined;
}

/** The whole run's samples. */
interface Results {
  single: Map<string, Sample[]>;
  parallel: Map<InitSetup, Sample>;
}

function key(setup: InitSetup, phase: Phase): string {
  return `${setup}/${phase}`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function ratio(value: number, base: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(base) || base === 0) return "-";
  return `${(value / base).toFixed(2)}x`;
}

function failureLine(outcome: InitOutcome): string {
  const line = outcome.output.split("\n").find((l) => /error/i.test(l)) ??
    outcome.output.trim().split("\n").at(-1) ?? "";
  return `exit ${outcome.code}: ${line.trim().slice(0, 160)}`;
}

function repsFromEnv(): number {
  const raw = Deno.env.get("TFCACHE_BENCH_REPS");
  const reps = raw === undefined ? DEFAULT_REPS : Number.parseInt(raw, 10);
  if (!Number.isInteger(reps) || reps < 1 || reps > MAX_REPS) {
    throw new RangeError(`TFCACHE_BENCH_REPS must be an integer from 1 to ${MAX_REPS}: "${raw}"`);
  }
  return reps;
}

/**
 * Runs the benchmark and prints the tables.
 *
 * @returns The exit code: 0, or 1 when a direct or tfcache init failed.
 */
export async function main(): Promise<number> {
  if (terraformPath() === undefined) {
    console.log("SKIP: init benchmark: terraform not on PATH");
    return 0;
  }
  const reps = repsFromEnv();
  const platform = localPlatform();
  const registry = await startFakeRegistry({
    providers: Array.from({ length: PROVIDER_COUNT }, (_, i) => ({
      namespace: "bench",
      type: `big${i + 1}`,
      versions: ["1.0.0"],
      platforms: [platform],
      sizeBytes: PROVIDER_SIZE,
    })),
  });
  const tempDir = await Deno.makeTempDir({ prefix: "tfcache-init-bench-" });
  try {
    await registry.warm();
    registry.faults.set({ throttleBytesPerSec: THROTTLE_BYTES_PER_SEC });
    const startupMs = await tfcacheStartupMs();
    const providers: ProviderRequirement[] = registry.providers.map((p) => ({
      source: `${registry.host}/${p.namespace}/${p.type}`,
    }));
    console.log(
      `terraform init: ${PROVIDER_COUNT} providers × ${formatBytes(PROVIDER_SIZE)} (${platform})` +
        ` from the fake registry paced at ${formatBytes(THROTTLE_BYTES_PER_SEC)}/s per response;` +
        ` tfcache startup (deno run main.ts --version): ${seconds(startupMs)}`,
    );
    const results: Results = { single: new Map(), parallel: new Map() };
    let lockFile: string | undefined;
    for (let rep = 0; rep < reps; rep++) {
      // Rotate the order so that no setup always runs first (page cache, CPU boost).
      const order = INIT_SETUPS.map((_, i) => INIT_SETUPS[(i + rep) % INIT_SETUPS.length]!);
      for (const setup of order) {
        const lock = await singleRound(registry, tempDir, providers, setup, rep, results);
        if (lockFile === undefined && lock !== undefined) lockFile = lock;
      }
      console.log(`  round ${rep + 1}/${reps} done`);
    }
    if (lockFile === undefined) throw new Error("No init succeeded: no lock file to reuse");
    for (const setup of INIT_SETUPS) {
      results.parallel.set(
        setup,
        await parallelBatch(registry, tempDir, providers, setup, lockFile),
      );
      console.log(`  ${PARALLEL} parallel inits (${setup}) done`);
    }
    printTables(results, reps);
    const unexpected = [...results.single.entries()]
      .filter(([k]) => !k.startsWith("plugin_cache_dir/"))
      .some(([, samples]) => samples.some((s) => s.failures > 0)) ||
      (results.parallel.get("direct")?.failures ?? 0) > 0 ||
      (results.parallel.get("tfcache")?.failures ?? 0) > 0 ||
      (results.parallel.get("tfcache --no-preinstall")?.failures ?? 0) > 0;
    return unexpected ? 1 : 0;
  } finally {
    await registry.close();
    await Deno.remove(tempDir, { recursive: true }).catch(() => {});
  }
}

/** Cold, warm and warm-without-lock for one setup with a fresh cache; returns a lock file copy. */
async function singleRound(
  registry: FakeRegistry,
  tempDir: string,
  providers: readonly ProviderRequirement[],
  setup: InitSetup,
  rep: number,
  results: Results,
): Promise<string | undefined> {
  const round = join(tempDir, `round-${rep}-${setupSlug(setup)}`);
  const cacheDir = join(round, "cache");
  const lockCopy = join(tempDir, `lock-${rep}-${setupSlug(setup)}.hcl`);
  let haveLock = false;
  try {
    for (const phase of PHASES) {
      const root = join(round, phase.replaceAll(/[^a-z]+/g, "-"));
      registry.counters.reset();
      const outcome = await runInit({
        setup,
        root,
        providers,
        sslCertFile: registry.caFile,
        cacheDir,
        ...((phase === "warm" || phase === "warm again") && haveLock ? { lockFile: lockCopy } : {}),
      });
      const failed = outcome.code !== 0;
      const sample: Sample = {
        durationMs: outcome.durationMs,
        upstreamBytes: registry.counters.bytesServed,
        failures: failed ? 1 : 0,
        firstFailure: failed ? failureLine(outcome) : undefined,
      };
      const samples = results.single.get(key(setup, phase)) ?? [];
      samples.push(sample);
      results.single.set(key(setup, phase), samples);
      if (failed) console.log(`  ${setup} ${phase} FAILED: ${sample.firstFailure}`);
      if (phase === "cold" && !failed) {
        await Deno.copyFile(join(outcome.workDir, ".terraform.lock.hcl"), lockCopy);
        haveLock = true;
      }
      // Each working directory holds 150 MiB of providers: remove it right away.
      await Deno.remove(root, { recursive: true });
    }
  } finally {
    await Deno.remove(round, { recursive: true }).catch(() => {});
  }
  return haveLock ? lockCopy : undefined;
}

/** {@linkcode PARALLEL} inits at once, sharing one empty cache, each with the lock file. */
async function parallelBatch(
  registry: FakeRegistry,
  tempDir: string,
  providers: readonly ProviderRequirement[],
  setup: InitSetup,
  lockFile: string,
): Promise<Sample> {
  const batch = join(tempDir, `parallel-${setupSlug(setup)}`);
  const cacheDir = join(batch, "cache");
  await Deno.mkdir(cacheDir, { recursive: true });
  try {
    registry.counters.reset();
    const started = performance.now();
    const outcomes = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        runInit({
          setup,
          root: join(batch, `init-${i + 1}`),
          providers,
          sslCertFile: registry.caFile,
          cacheDir,
          lockFile,
        })),
    );
    const durationMs = performance.now() - started;
    const failed = outcomes.filter((o) => o.code !== 0);
    return {
      durationMs,
      upstreamBytes: registry.counters.bytesServed,
      failures: failed.length,
      firstFailure: failed[0] !== undefined ? failureLine(failed[0]) : undefined,
    };
  } finally {
    await Deno.remove(batch, { recursive: true }).catch(() => {});
  }
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  for (const row of rows) {
    console.log("  " + row.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd());
  }
}

function printTables(results: Results, reps: number): void {
  console.log(
    `\nOne init at a time, fresh working directory (median of ${reps}; ratios vs direct, same phase)`,
  );
  const rows = [["setup", "phase", "wall", "vs direct", "upstream", "vs direct", "failed"]];
  for (const phase of PHASES) {
    const base = results.single.get(key("direct", phase)) ?? [];
    const baseMs = median(base.map((s) => s.durationMs));
    const baseBytes = median(base.map((s) => s.upstreamBytes));
    for (const setup of INIT_SETUPS) {
      const samples = results.single.get(key(setup, phase)) ?? [];
      const ms = median(samples.map((s) => s.durationMs));
      const bytes = median(samples.map((s) => s.upstreamBytes));
      const failures = samples.reduce((n, s) => n + s.failures, 0);
      rows.push([
        setup,
        phase,
        seconds(ms),
        ratio(ms, baseMs),
        formatBytes(bytes),
        ratio(bytes, baseBytes),
        `${failures}/${samples.length}`,
      ]);
    }
  }
  printTable(rows);

  console.log(
    `\n${PARALLEL} inits at once, one shared empty cache, lock file present (ratios vs direct)`,
  );
  const base = results.parallel.get("direct");
  const prows = [["setup", "wall", "vs direct", "upstream", "vs direct", "failed"]];
  for (const setup of INIT_SETUPS) {
    const s = results.parallel.get(setup);
    if (s === undefined) continue;
    prows.push([
      setup,
      seconds(s.durationMs),
      ratio(s.durationMs, base?.durationMs ?? NaN),
      formatBytes(s.upstreamBytes),
      ratio(s.upstreamBytes, base?.upstreamBytes ?? NaN),
      `${s.failures}/${PARALLEL}`,
    ]);
  }
  printTable(prows);
  const failures = [
    ...[...results.single.entries()].flatMap(([k, samples]) =>
      samples.flatMap((s) => s.firstFailure !== undefined ? [`${k}: ${s.firstFailure}`] : [])
    ),
    ...[...results.parallel.entries()].flatMap(([setup, s]) =>
      s.firstFailure !== undefined
        ? [`${setup}/parallel (first of ${s.failures}): ${s.firstFailure}`]
        : []
    ),
  ];
  if (failures.length > 0) {
    console.log("\nFailures:");
    for (const line of failures) console.log(`  ${line}`);
  }
}

/**
 * Runs the module-install benchmark when `bench/_init_modules.ts` provides one: it exports
 * `runModuleInitBench({ reps })` (returns a result, throws on failure) and optionally
 * `formatModuleBench(result)` (the text to print).
 */
async function runModuleBenchIfPresent(reps: number): Promise<void> {
  const url = new URL("./_init_modules.ts", import.meta.url);
  try {
    await Deno.stat(fileURLToPath(url));
  } catch {
    return;
  }
  // A computed specifier: type-checking this file does not need the module to exist.
  const specifier = url.href;
  const module = await import(specifier) as Record<string, unknown>;
  const run = module.runModuleInitBench;
  const format = module.formatModuleBench;
  if (typeof run !== "function") {
    console.log("SKIP: module init benchmark: bench/_init_modules.ts has no runModuleInitBench");
    return;
  }
  console.log("");
  const result: unknown = await run({ reps });
  if (typeof format === "function") console.log(String(format(result)));
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main();
    // The module benchmark needs terraform too; main() has printed the SKIP line without it.
    if (terraformPath() !== undefined) await runModuleBenchIfPresent(repsFromEnv());
  } catch (error) {
    console.error(`init bench: error: ${error instanceof Error ? error.stack : String(error)}`);
    code = 1;
  }
  Deno.exit(code);
}

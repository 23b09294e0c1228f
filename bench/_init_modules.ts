/**
 * Module-install benchmark: `terraform init` of a configuration with 10 registry modules (5 whose
 * downloads point at HTTP tarballs, 5 at git repositories) directly, and through
 * `tfcache run` cold (empty cache) and warm (same cache, fresh working directory). Upstream is
 * the fake registry (HTTPS) and a smart-HTTP git server, both on 127.0.0.1, so the direct
 * baseline is the best case a real network never reaches: the ratios show tfcache's overhead
 * more than its savings. The warm run's upstream requests are counted at the upstream servers.
 *
 * Needs `terraform` and `git` on PATH. Run: `deno run --allow-all bench/_init_modules.ts`
 * (or through `bench/init_bench.ts`, which imports {@linkcode runModuleInitBench}).
 *
 * @module
 */

import { join } from "node:path";
import { runCli } from "../tests/cli/_support/run_cli.ts";
import { makeRepo, serveGit } from "../tests/mirrors/_support/git_repos.ts";
import { type FakeModuleConfig, startFakeRegistry } from "../tests/support/fake_registry.ts";
import { diffFiles, snapshotModules } from "../tests/support/module_tree.ts";
import {
  createTerraformSandbox,
  runTerraform,
  terraformPath,
  type TerraformSandbox,
  writeConfig,
} from "../tests/support/terraform.ts";

/** Figures from {@linkcode runModuleInitBench}; times are medians in milliseconds. */
export interface ModuleBenchResult {
  /** Repetitions each median is taken over. */
  reps: number;
  /** Registry modules in the configuration (half tarballs, half git). */
  modules: number;
  /** Direct `terraform init` in a fresh directory. */
  directMs: number;
  /** `tfcache run -- terraform init` with an empty cache. */
  coldMs: number;
  /** `tfcache run -- terraform init` in a fresh directory with the cache filled. */
  warmMs: number;
  /** `tfcache run -- terraform version`: tfcache's own start-up and shutdown, plus terraform's. */
  startupMs: number;
  /** Requests the last warm run made to the registry, by kind (e.g. `discovery`). */
  warmRegistryRequests: Record<string, number>;
  /** Requests the last warm run made to the git server. */
  warmGitRequests: number;
  /** Whether every tfcache install left the same module files as the direct one. */
  sameTrees: boolean;
}

/** Thrown when a benchmark run fails or its prerequisites are missing. */
export class ModuleBenchError extends Error {
  /** @param message What failed and how to fix it. */
  constructor(message: string) {
    super(message);
    this.name = "ModuleBenchError";
  }
}

const HALF = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[mid] ?? 0
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/**
 * Runs the benchmark.
 *
 * @param options `reps`: repetitions per figure (default 3).
 * @returns The medians, the warm run's upstream requests and whether the trees matched.
 * @throws {ModuleBenchError} when terraform is missing or an init fails.
 */
export async function runModuleInitBench(
  options: { reps?: number } = {},
): Promise<ModuleBenchResult> {
  const reps = options.reps ?? 3;
  if (terraformPath() === undefined) {
    throw new ModuleBenchError("Cannot run the module init benchmark: terraform is not on PATH");
  }
  const root = await Deno.makeTempDir({ prefix: "tfcache-modbench-" });
  const boxes: TerraformSandbox[] = [];
  const gitServer = serveGit(root);
  try {
    for (let i = 0; i < HALF; i++) await makeRepo(root, `repo${i}`);
    const modules: FakeModuleConfig[] = [];
    for (let i = 0; i < HALF; i++) {
      modules.push({
        namespace: "bench",
        name: `archive${i}`,
        system: "aws",
        versions: ["1.0.0"],
        files: {
          "main.tf": `output "n" { value = ${i} }\n`,
          "variables.tf": `variable "x" {\n  default = "${"x".repeat(2048)}"\n}\n`,
          "modules/inner/main.tf": 'output "inner" { value = "inner" }\n',
        },
      });
      modules.push({
        namespace: "bench",
        name: `git${i}`,
        system: "aws",
        versions: ["1.0.0"],
        sourceKind: "git",
        gitUrl: `git::${gitServer.url}repo${i}.git?ref=v{version}`,
      });
    }
    await using registry = await startFakeRegistry({ modules });
    const newBox = async (): Promise<TerraformSandbox> => {
      const box = await createTerraformSandbox({ sslCertFile: registry.caFile });
      boxes.push(box);
      await writeConfig(
        box.workDir,
        [],
        modules.map((m) => ({
          name: m.name,
          source: `${registry.host}/${m.namespace}/${m.name}/${m.system}`,
          version: "1.0.0",
        })),
      );
      return box;
    };
    const check = (what: string, code: number, output: string): void => {
      if (code !== 0) {
        throw new ModuleBenchError(`Cannot benchmark: the ${what} init failed:\n${output}`);
      }
    };
    const tfcache = async (
      box: TerraformSandbox,
      cacheDir: string,
      command = ["init", "-input=false"],
    ): Promise<number> => {
      const started = performance.now();
      const run = await runCli(
        ["run", "--cache-dir", cacheDir, "-q", "--", "terraform", ...command],
        { cwd: box.workDir, env: box.env },
      );
      const elapsed = performance.now() - started;
      check("tfcache", run.code, run.stdout + run.stderr);
      return elapsed;
    };

    const direct: number[] = [];
    const cold: number[] = [];
    const warm: number[] = [];
    const startup: number[] = [];
    let sameTrees = true;
    let warmRegistryRequests: Record<string, number> = {};
    let warmGitRequests = 0;
    for (let rep = 0; rep < reps; rep++) {
      const directBox = await newBox();
      const run = await runTerraform(["init", "-input=false", "-no-color"], {
        cwd: directBox.workDir,
        env: directBox.env,
      });
      check("direct", run.code, run.stdout + run.stderr);
      direct.push(run.durationMs);
      const expected = (await snapshotModules(directBox.workDir)).files;

      const cacheDir = join(root, `cache-${rep}`);
      const coldBox = await newBox();
      cold.push(await tfcache(coldBox, cacheDir));
      registry.counters.reset();
      gitServer.requests.length = 0;
      const warmBox = await newBox();
      warm.push(await tfcache(warmBox, cacheDir));
      warmRegistryRequests = {};
      for (const record of registry.counters.log) {
        warmRegistryRequests[record.kind] = (warmRegistryRequests[record.kind] ?? 0) + 1;
      }
      warmGitRequests = gitServer.requests.length;
      startup.push(await tfcache(warmBox, cacheDir, ["version"]));
      for (const box of [coldBox, warmBox]) {
        const files = (await snapshotModules(box.workDir)).files;
        if (diffFiles(expected, files).length > 0) sameTrees = false;
      }
    }
    return {
      reps,
      modules: modules.length,
      directMs: median(direct),
      coldMs: median(cold),
      warmMs: median(warm),
      startupMs: median(startup),
      warmRegistryRequests,
      warmGitRequests,
      sameTrees,
    };
  } finally {
    await gitServer.stop();
    for (const box of boxes) await box.close();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

/**
 * Formats the result as a small table with ratios against the direct init.
 *
 * @param r The benchmark result.
 * @returns Lines of text (no trailing newline).
 */
export function formatModuleBench(r: ModuleBenchResult): string {
  const row = (label: string, ms: number) =>
    `${label.padEnd(26)}${(ms / 1000).toFixed(2).padStart(8)} s${
      (ms / r.directMs).toFixed(2).padStart(9)
    }x`;
  const requests = Object.entries(r.warmRegistryRequests).map(([k, n]) => `${k} ${n}`).join(", ");
  return [
    `terraform init, ${r.modules} registry modules (${r.modules / 2} HTTP archives, ` +
    `${r.modules / 2} git); median of ${r.reps}; upstream on 127.0.0.1`,
    `${"".padEnd(26)}${"time".padStart(10)}${"vs direct".padStart(10)}`,
    row("direct", r.directMs),
    row("tfcache run, cold cache", r.coldMs),
    row("tfcache run, warm cache", r.warmMs),
    row("tfcache run -- tf version", r.startupMs),
    `warm run upstream requests: registry ${requests === "" ? "0" : requests}; ` +
    `git ${r.warmGitRequests}`,
    `module trees identical to the direct init: ${r.sameTrees ? "yes" : "NO"}`,
  ].join("\n");
}

if (import.meta.main) {
  const reps = Number(Deno.args[0] ?? "3");
  console.log(formatModuleBench(await runModuleInitBench({ reps })));
}

/**
 * Runs one `terraform init` in a fresh working directory for the init benchmark, in one of four
 * setups: straight to the registry (`direct`), with terraform's own plugin cache
 * (`TF_PLUGIN_CACHE_DIR`), or through `tfcache run` (`deno run main.ts run …`) with and without
 * pre-installing providers.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { denoEnv } from "../../tests/cli/_support/run_cli.ts";
import {
  type ProviderRequirement,
  terraformEnv,
  writeConfig,
} from "../../tests/support/terraform.ts";

const MAIN_TS = fileURLToPath(new URL("../../main.ts", import.meta.url));

/**
 * How terraform gets its providers: `tfcache` is `tfcache run` as users run it (pre-installing
 * locked providers from the unpacked cache), `tfcache --no-preinstall` leaves every install to
 * terraform (which downloads each zip from the cache over loopback and unpacks it).
 */
export type InitSetup = "direct" | "plugin_cache_dir" | "tfcache" | "tfcache --no-preinstall";

/** Every {@linkcode InitSetup}, baseline first. */
export const INIT_SETUPS: readonly InitSetup[] = [
  "direct",
  "plugin_cache_dir",
  "tfcache",
  "tfcache --no-preinstall",
];

/**
 * A file-name-safe spelling of a setup.
 *
 * @param setup The setup.
 * @returns e.g. `tfcache-no-preinstall`.
 */
export function setupSlug(setup: InitSetup): string {
  return setup.replaceAll(/[^a-z_]+/g, "-");
}

/** One init to run. */
export interface InitSpec {
  /** The setup. */
  setup: InitSetup;
  /** A directory that does not exist yet; the working directory and HOME go below it. */
  root: string;
  /** Provider requirements for `main.tf`. */
  providers: readonly ProviderRequirement[];
  /** Trust bundle for the registry (`SSL_CERT_FILE`). */
  sslCertFile: string;
  /** The shared cache: `TF_PLUGIN_CACHE_DIR` or tfcache's `--cache-dir` (unused for direct). */
  cacheDir: string;
  /** A lock file to put in the working directory first (a checkout with a committed lock). */
  lockFile?: string;
}

/** What one init did. */
export interface InitOutcome {
  /** Exit code (of `tfcache run`, which is terraform's). */
  code: number;
  /** Wall time in milliseconds, process start to exit. */
  durationMs: number;
  /** The working directory (holds `.terraform.lock.hcl` afterwards). */
  workDir: string;
  /** Standard output and error, for failure messages. */
  output: string;
}

/**
 * Prepares a fresh working directory and runs `terraform init` in it.
 *
 * @param spec What to run and where.
 * @returns Exit code, wall time and output (a failed init is returned, not thrown).
 */
export async function runInit(spec: InitSpec): Promise<InitOutcome> {
  const workDir = join(spec.root, "work");
  const home = join(spec.root, "home");
  const cliConfigFile = join(spec.root, "terraformrc");
  await Deno.mkdir(workDir, { recursive: true });
  await Deno.mkdir(home);
  await Deno.writeTextFile(cliConfigFile, "");
  await writeConfig(workDir, spec.providers);
  if (spec.lockFile !== undefined) {
    await Deno.copyFile(spec.lockFile, join(workDir, ".terraform.lock.hcl"));
  }
  const env = terraformEnv({
    home,
    cliConfigFile,
    sslCertFile: spec.sslCertFile,
    extra: spec.setup === "plugin_cache_dir" ? { TF_PLUGIN_CACHE_DIR: spec.cacheDir } : {},
  });
  const terraformArgs = ["init", "-input=false", "-no-color"];
  const [command, args] = spec.setup === "tfcache" || spec.setup === "tfcache --no-preinstall"
    ? [Deno.execPath(), [
      "run",
      "--allow-all",
      "--quiet",
      MAIN_TS,
      "run",
      "--cache-dir",
      spec.cacheDir,
      ...(spec.setup === "tfcache --no-preinstall" ? ["--no-preinstall"] : []),
      "--",
      "terraform",
      ...terraformArgs,
    ]]
    : ["terraform", terraformArgs];
  const started = performance.now();
  const result = await new Deno.Command(command, {
    args,
    cwd: workDir,
    env: { ...denoEnv(), ...env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const durationMs = performance.now() - started;
  const decoder = new TextDecoder();
  return {
    code: result.code,
    durationMs,
    workDir,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

/**
 * Runs `deno run main.ts --version` once and returns its wall time: the fixed cost that every
 * tfcache figure includes (a compiled binary starts faster).
 *
 * @returns Milliseconds.
 */
export async function tfcacheStartupMs(): Promise<number> {
  const started = performance.now();
  await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", MAIN_TS, "--version"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  return performance.now() - started;
}

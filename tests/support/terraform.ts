/**
 * Helpers for end-to-end tests that drive a real `terraform` binary in an isolated sandbox:
 * a temporary working directory, `HOME`, and CLI configuration file, so neither the user's
 * `~/.terraformrc` nor their environment leaks into the test.
 *
 * Tests should skip cleanly when terraform is absent:
 *
 * ```ts
 * const terraform = terraformPath();
 * if (terraform === undefined) {
 *   console.log("SKIP: terraform not on PATH");
 *   return;
 * }
 * ```
 *
 * Permissions: `--allow-run` (terraform), `--allow-env=PATH,PATHEXT`, read/write on the temp dir.
 *
 * @module
 */
import { delimiter, join } from "node:path";

/** Outcome of one terraform invocation. */
export interface TerraformResult {
  /** Exit code. */
  code: number;
  /** Captured standard output. */
  stdout: string;
  /** Captured standard error. */
  stderr: string;
  /** Wall-clock duration in milliseconds. */
  durationMs: number;
}

/** Options for {@linkcode runTerraform}. */
export interface RunTerraformOptions {
  /** Working directory. */
  cwd: string;
  /** The complete environment (the parent's is not inherited); see {@linkcode terraformEnv}. */
  env: Record<string, string>;
  /** The terraform binary; default {@linkcode terraformPath}. */
  terraform?: string;
  /** Abort the run (terraform is killed). */
  signal?: AbortSignal;
}

/** A provider requirement for {@linkcode writeConfig}. */
export interface ProviderRequirement {
  /** Source address, e.g. `127.0.0.1:8443/tfcache/alpha`. */
  source: string;
  /** Version constraint, e.g. `1.0.0` or `~> 1.0`. Omitted: any version. */
  version?: string;
  /** Local name; default: the last segment of `source`. */
  name?: string;
}

/** A module call for {@linkcode writeConfig}. */
export interface ModuleCall {
  /** Module block label. */
  name: string;
  /** Source address, e.g. `127.0.0.1:8443/tfcache/network/aws`. */
  source: string;
  /** Version constraint (registry sources only). */
  version?: string;
}

/** Inputs for {@linkcode terraformEnv}. */
export interface TerraformEnvOptions {
  /** Directory to use as `HOME`. */
  home: string;
  /** CLI configuration file (`TF_CLI_CONFIG_FILE`). */
  cliConfigFile: string;
  /** Trust bundle (`SSL_CERT_FILE`), e.g. the fake registry's `caFile`. */
  sslCertFile?: string;
  /** More variables, applied last (for example `TF_LOG`). */
  extra?: Record<string, string>;
}

/** An isolated place to run terraform, from {@linkcode createTerraformSandbox}. */
export interface TerraformSandbox extends AsyncDisposable {
  /** Root temporary directory (removed by `close()`). */
  root: string;
  /** Working directory for the configuration. */
  workDir: string;
  /** Directory used as `HOME`. */
  home: string;
  /** The CLI configuration file (`TF_CLI_CONFIG_FILE`). */
  cliConfigFile: string;
  /** The environment to pass to {@linkcode runTerraform}. */
  env: Record<string, string>;
  /** Removes {@linkcode TerraformSandbox.root}. */
  close(): Promise<void>;
}

/**
 * Finds `terraform` on `PATH`.
 *
 * @returns The absolute path, or `undefined` when terraform is not installed.
 */
export function terraformPath(): string | undefined {
  const path = Deno.env.get("PATH") ?? "";
  const windows = Deno.build.os === "windows";
  const exts = windows ? (Deno.env.get("PATHEXT") ?? ".EXE").split(";") : [""];
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    for (const ext of exts) {
      const candidate = join(dir, `terraform${ext.toLowerCase()}`);
      try {
        const info = Deno.statSync(candidate);
        if (info.isFile && (windows || ((info.mode ?? 0o111) & 0o111) !== 0)) return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/**
 * Builds a minimal, isolated environment for terraform: `PATH` only from the parent, plus
 * `HOME`, `TF_CLI_CONFIG_FILE`, `CHECKPOINT_DISABLE=1`, `TF_IN_AUTOMATION=1` and optionally
 * `SSL_CERT_FILE`. `TF_PLUGIN_CACHE_DIR` and every other `TF_*` variable are absent.
 *
 * @param options Paths to use.
 * @returns The environment.
 */
export function terraformEnv(options: TerraformEnvOptions): Record<string, string> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: options.home,
    TF_CLI_CONFIG_FILE: options.cliConfigFile,
    CHECKPOINT_DISABLE: "1",
    TF_IN_AUTOMATION: "1",
  };
  if (Deno.build.os === "windows") {
    env.USERPROFILE = options.home;
    env.APPDATA = options.home;
  }
  if (options.sslCertFile !== undefined) env.SSL_CERT_FILE = options.sslCertFile;
  return { ...env, ...options.extra };
}

/**
 * Writes a terraform CLI configuration file.
 *
 * @param path Destination.
 * @param content HCL text; default empty (direct installation from the registries).
 */
export async function writeCliConfig(path: string, content = ""): Promise<void> {
  await Deno.writeTextFile(path, content);
}

/**
 * Creates a sandbox: `<root>/work`, `<root>/home`, an empty CLI configuration file and the
 * matching environment.
 *
 * @param options `sslCertFile` (e.g. the fake registry's `caFile`), `cliConfig` text and extra
 * environment variables.
 * @returns The sandbox; call `close()` or use `await using`.
 * @example
 * ```ts
 * await using sandbox = await createTerraformSandbox();
 * await writeConfig(sandbox.workDir, [{ source: "127.0.0.1:8443/tfcache/alpha" }]);
 * if (terraformPath() !== undefined) {
 *   const result = await runTerraform(["version"], { cwd: sandbox.workDir, env: sandbox.env });
 *   console.log(result.stdout);
 * }
 * ```
 */
export async function createTerraformSandbox(
  options: { sslCertFile?: string; cliConfig?: string; extraEnv?: Record<string, string> } = {},
): Promise<TerraformSandbox> {
  const root = await Deno.makeTempDir({ prefix: "tfcache-tf-" });
  const workDir = join(root, "work");
  const home = join(root, "home");
  const cliConfigFile = join(root, "terraformrc");
  await Deno.mkdir(workDir);
  await Deno.mkdir(home);
  await writeCliConfig(cliConfigFile, options.cliConfig ?? "");
  const envOptions: TerraformEnvOptions = { home, cliConfigFile };
  if (options.sslCertFile !== undefined) envOptions.sslCertFile = options.sslCertFile;
  if (options.extraEnv !== undefined) envOptions.extra = options.extraEnv;
  const close = async () => {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  };
  return {
    root,
    workDir,
    home,
    cliConfigFile,
    env: terraformEnv(envOptions),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Terraform exited non-zero where the test needed it to succeed. */
export class TerraformFailedError extends Error {
  /**
   * @param args The terraform arguments.
   * @param result What terraform returned.
   */
  constructor(args: readonly string[], result: TerraformResult) {
    super(
      `terraform ${args.join(" ")} exited with ${result.code}:\n${result.stdout}${result.stderr}`,
    );
    this.name = "TerraformFailedError";
  }
}

/**
 * Runs `terraform init` and throws {@linkcode TerraformFailedError} (with its output) unless it
 * succeeds.
 *
 * @param args Arguments after `init`; `-input=false -no-color` are always passed.
 * @param options Working directory and environment.
 * @returns Exit code, output and duration.
 */
export async function terraformInitOk(
  args: readonly string[],
  options: RunTerraformOptions,
): Promise<TerraformResult> {
  const all = [
    "init",
    "-input=false",
    "-no-color",
    ...args.filter((a) => a !== "-input=false" && a !== "-no-color"),
  ];
  const result = await runTerraform(all, options);
  if (result.code !== 0) throw new TerraformFailedError(all, result);
  return result;
}

/**
 * Runs terraform with a complete, explicit environment and captures its output.
 *
 * @param args Arguments, e.g. `["init", "-input=false", "-no-color"]`.
 * @param options Working directory and environment.
 * @returns Exit code, output and duration.
 */
export async function runTerraform(
  args: readonly string[],
  options: RunTerraformOptions,
): Promise<TerraformResult> {
  const terraform = options.terraform ?? terraformPath();
  if (terraform === undefined) throw new Error("Cannot run terraform: not found on PATH");
  const commandOptions: Deno.CommandOptions = {
    args: [...args],
    cwd: options.cwd,
    env: options.env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  };
  if (options.signal !== undefined) commandOptions.signal = options.signal;
  const started = performance.now();
  const output = await new Deno.Command(terraform, commandOptions).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    durationMs: performance.now() - started,
  };
}

function _hcl(value: string): string {
  return JSON.stringify(value);
}

/**
 * Writes `<dir>/main.tf` with a `required_providers` block (and optional module calls).
 *
 * @param dir The configuration directory.
 * @param providers Provider requirements; local names default to the source's type.
 * @param modules Module calls.
 * @returns The path of the written file.
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * await writeConfig(dir, [{ source: "127.0.0.1:8443/tfcache/alpha", version: "1.0.0" }]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeConfig(
  dir: string,
  providers: readonly ProviderRequirement[],
  modules: readonly ModuleCall[] = [],
): Promise<string> {
  const lines = ["terraform {", "  required_providers {"];
  for (const p of providers) {
    const name = p.name ?? p.source.split("/").at(-1) ?? p.source;
    lines.push(`    ${name} = {`, `      source = ${_hcl(p.source)}`);
    if (p.version !== undefined) lines.push(`      version = ${_hcl(p.version)}`);
    lines.push("    }");
  }
  lines.push("  }", "}", "");
  for (const m of modules) {
    lines.push(`module ${_hcl(m.name)} {`, `  source = ${_hcl(m.source)}`);
    if (m.version !== undefined) lines.push(`  version = ${_hcl(m.version)}`);
    lines.push("}", "");
  }
  const path = join(dir, "main.tf");
  await Deno.writeTextFile(path, lines.join("\n"));
  return path;
}

/** One `provider` block of a lock file, as read by {@linkcode parseLockFile}. */
export interface LockedProvider {
  /** `version = "…"`. */
  version: string;
  /** `constraints = "…"`, when present. */
  constraints?: string;
  /** `hashes = [...]`, in file order. */
  hashes: string[];
}

/**
 * Reads the provider blocks of a `.terraform.lock.hcl` (a deliberately small reader for test
 * assertions; it understands only what terraform writes).
 *
 * @param text The lock file's content.
 * @returns Provider address (e.g. `127.0.0.1:8443/tfcache/alpha`) → locked entry.
 */
export function parseLockFile(text: string): Map<string, LockedProvider> {
  const result = new Map<string, LockedProvider>();
  const blockRe = /^provider\s+"([^"]+)"\s*\{([\s\S]*?)^\}/gm;
  for (const match of text.matchAll(blockRe)) {
    const [, address = "", body = ""] = match;
    const version = /^\s*version\s*=\s*"([^"]*)"/m.exec(body)?.[1] ?? "";
    const constraints = /^\s*constraints\s*=\s*"([^"]*)"/m.exec(body)?.[1];
    const hashesBlock = /hashes\s*=\s*\[([\s\S]*?)\]/m.exec(body)?.[1] ?? "";
    const hashes = [...hashesBlock.matchAll(/"([^"]+)"/g)].map((m) => m[1] ?? "");
    const entry: LockedProvider = { version, hashes };
    if (constraints !== undefined) entry.constraints = constraints;
    result.set(address, entry);
  }
  return result;
}

/**
 * Returns terraform's name for the platform this process runs on, e.g. `linux_amd64`.
 *
 * @returns `<os>_<arch>` in Go's spelling.
 */
export function localPlatform(): string {
  const arch = Deno.build.arch === "x86_64" ? "amd64" : "arm64";
  return `${Deno.build.os}_${arch}`;
}

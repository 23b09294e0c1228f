/**
 * `tfcache run [options] -- COMMAND [ARGS...]`: runs one command (usually `terraform init` or
 * `tofu init`) with provider and module installation routed through the local cache.
 *
 * @module
 */

import { join } from "node:path";
import { readConfigRequirements } from "../config/config_requirements.ts";
import { gitInsteadOfEnv } from "../mirrors/git_mirror.ts";
import { providerServicesUrl } from "../mirrors/provider_paths.ts";
import { resolveCacheDir } from "./cache_dir.ts";
import { type CacheRuntime, startCacheRuntime } from "./cache_runtime.ts";
import { runChild } from "./child_process.ts";
import { loadUserCliConfig, renderCliConfig, type UserCliConfig } from "./cli_config.ts";
import type { Command } from "./command.ts";
import { loadCredentials } from "./credentials.ts";
import { gitRemoteHost } from "./git_hosts.ts";
import { lockAfterRun } from "./lock.ts";
import { describeError } from "./describe_error.ts";
import { parseRunArgs, type RunArgs } from "./run_args.ts";
import {
  cliSetupBlocker,
  preinstallProviders,
  type PreinstallReport,
  preinstallWarnings,
} from "./run_preinstall.ts";
import { detectInit } from "./run_preinstall_args.ts";

/** Registry hosts always routed through the cache. */
export const DEFAULT_REGISTRY_HOSTS: readonly string[] = [
  "registry.terraform.io",
  "registry.opentofu.org",
];

const HELP =
  `tfcache run — run one command with provider and module installation going through the cache

Usage:
  tfcache run [options] -- COMMAND [ARGS...]

Examples:
  tfcache run -- terraform init
  tfcache run --report-json savings.json -- tofu init -upgrade

Options:
  --cache-dir DIR         Cache directory (default: $TFCACHE_CACHE_DIR, else
                          $XDG_CACHE_HOME/tfcache, else ~/.cache/tfcache)
  --report-json FILE      Also write the savings report as JSON to FILE (for CI)
  --lock-platform OS_ARCH After the command succeeds, complete the lock file for this platform
                          (repeatable)
  --no-preinstall         Do not pre-install providers before "terraform init" (see below)
  -q, --quiet             Do not print the savings report
  -h, --help              Show this help

What it does:
  Starts the cache on 127.0.0.1 (ephemeral ports, a per-run secret in every URL), writes a
  temporary CLI configuration (mode 0600, removed at exit) that keeps everything in yours
  (TF_CLI_CONFIG_FILE, TOFU_CLI_CONFIG_FILE or ~/.terraformrc) and adds host blocks that send
  provider and module registry requests for every registry host the configuration uses through
  the cache, and exports TF_CLI_CONFIG_FILE, TOFU_CLI_CONFIG_FILE and SSL_CERT_FILE (a bundle of
  the system roots, your SSL_CERT_FILE and the cache's certificate) to COMMAND. Git module
  sources on https:// hosts (and git::http:// hosts) named in the configuration are routed
  through the cache's git mirror.
  The exit status is COMMAND's.

Pre-install (terraform/tofu init with a lock file):
  Before "terraform init" or "tofu init" in a directory with a .terraform.lock.hcl, the locked
  providers are linked into .terraform/providers from tfcache's unpacked cache
  (<cache-dir>/unpacked, shared safely by concurrent runs), so init reports "Using
  previously-installed" after checking them against the lock file's h1: hashes, and downloads
  and unpacks nothing. The lock file is left to terraform. It is skipped for init -upgrade,
  -plugin-dir, -from-module and -get-plugins (also from TF_CLI_ARGS / TF_CLI_ARGS_init), when
  your CLI configuration has its own provider_installation block or plugin_cache_dir, or
  TF_PLUGIN_CACHE_DIR or TF_REATTACH_PROVIDERS is set, and for providers whose lock entry has no
  h1: and zh: hashes. Any failure is a warning ("tfcache: pre-install skipped: ...") and terraform
  installs normally. --no-preinstall turns it off.

Credentials for upstream registries: TF_TOKEN_<host> / TOFU_TOKEN_<host>, credentials blocks in
the CLI configuration, and ~/.terraform.d/credentials.tfrc.json.
`;

/** The `run` command. */
export const runCommand: Command = {
  name: "run",
  summary: "Run a command (terraform/tofu init…) with installs going through the cache",
  help: HELP,
  run: runRun,
};

async function runRun(args: string[]): Promise<number> {
  const options = parseRunArgs(args);
  const env = Deno.env.toObject();
  const cacheDir = resolveCacheDir(options.cacheDir, (name) => env[name]);
  const started = performance.now();
  const user = await loadUserCliConfig((name) => env[name]);
  const credentials = await loadCredentials(user, env);
  const workDir = chdirOf(options.command) ?? Deno.cwd();
  const { registryHosts, gitHosts, plainHttpGitHosts } = await scanConfiguration(workDir);
  const runDir = await Deno.makeTempDir({ prefix: "tfcache-run-" });
  let runtime: CacheRuntime | undefined;
  let preinstall: PreinstallReport | undefined;
  let exitCode = 1;
  try {
    runtime = await startCacheRuntime({
      cacheDir,
      credentials,
      hostOverrides: Object.fromEntries(user.hosts),
      runDir,
      env,
      gitPlainHttpHosts: plainHttpGitHosts,
      log: (level, message) => {
        if (level === "warn" || level === "error") console.error(`tfcache: ${level}: ${message}`);
      },
    });
    const interrupted = new AbortController();
    preinstall = await withInterrupt(
      interrupted,
      () => maybePreinstall(options, user, env, runtime!, cacheDir, workDir, interrupted.signal),
    );
    for (const line of preinstallWarnings(preinstall)) console.error(line);
    if (interrupted.signal.aborted) return exitCode = 130;
    if (preinstall.installed.length > 0 && !options.quiet) {
      const n = preinstall.installed.length;
      console.error(
        `tfcache: pre-installed ${n} provider${n === 1 ? "" : "s"} from the shared cache ` +
          `(${(preinstall.durationMs / 1000).toFixed(2)} s)`,
      );
    }
    const hostServices = new Map<string, Record<string, string>>();
    await Promise.all(registryHosts.map(async (host) => {
      hostServices.set(host, {
        ...await otherServices(runtime!, host),
        "providers.v1": providerServicesUrl(runtime!.httpBaseUrl, host),
        "modules.v1": new URL(`modules/${host}/`, runtime!.httpBaseUrl).href,
      });
    }));
    const plan = {
      hostServices,
      ...(runtime.httpsBaseUrl !== undefined
        ? {
          networkMirror: {
            url: new URL("providers/", runtime.httpsBaseUrl).href,
            directHosts: registryHosts,
          },
        }
        : {}),
    };
    const rendered = renderCliConfig(user, plan);
    for (const host of rendered.skippedHosts) {
      console.error(
        `tfcache: warning: your CLI configuration has its own host block for "${host}"; ` +
          "installs from that host do not go through the cache",
      );
    }
    const configPath = join(runDir, "tfcache.tfrc");
    await Deno.writeTextFile(configPath, rendered.text, { mode: 0o600, createNew: true });
    const childEnv: Record<string, string> = {
      ...env,
      TF_CLI_CONFIG_FILE: configPath,
      TOFU_CLI_CONFIG_FILE: configPath,
      ...(runtime.trustBundlePath !== undefined ? { SSL_CERT_FILE: runtime.trustBundlePath } : {}),
      ...(gitHosts.length + plainHttpGitHosts.length > 0
        ? gitInsteadOfEnv(runtime.httpBaseUrl, gitHosts, {
          inherited: env,
          plainHttpHosts: plainHttpGitHosts,
        })
        : {}),
    };
    exitCode = await runChild({ command: options.command, env: childEnv });
    if (exitCode === 0 && options.lockPlatforms.length > 0) {
      exitCode = await lockAfterRun(runtime, cacheDir, workDir, options.lockPlatforms);
    }
    return exitCode;
  } finally {
    await runtime?.close();
    await Deno.remove(runDir, { recursive: true }).catch(() => {});
    if (runtime !== undefined) {
      const line = runtime.stats.formatReport();
      if (!options.quiet && line !== "") console.error(`tfcache: ${line}`);
      if (options.reportJson !== undefined) {
        const report = {
          command: options.command,
          exitCode,
          durationMs: Math.round(performance.now() - started),
          cacheDir,
          summary: line,
          stats: runtime.stats.toJSON(),
          ...(preinstall !== undefined ? { preinstall } : {}),
        };
        await Deno.writeTextFile(options.reportJson, JSON.stringify(report, null, 2) + "\n");
      }
    }
  }
}

/**
 * The directory terraform runs in: its `-chdir=DIR` global option (the last one, as terraform
 * reads it), when given.
 */
function chdirOf(command: string[]): string | undefined {
  let dir: string | undefined;
  for (const arg of command.slice(1)) {
    if (!arg.startsWith("-")) break;
    if (arg.startsWith("-chdir=")) dir = arg.slice("-chdir=".length);
  }
  return dir;
}

/**
 * Pre-installs the locked providers when the command is a `terraform init` / `tofu init` that
 * allows it and the user's setup leaves provider installation to tfcache.
 */
async function maybePreinstall(
  options: RunArgs,
  user: UserCliConfig,
  env: Record<string, string>,
  runtime: CacheRuntime,
  cacheDir: string,
  workDir: string,
  signal: AbortSignal,
): Promise<PreinstallReport> {
  const skip = (reason: string): PreinstallReport => ({
    status: options.preinstall ? "skipped" : "disabled",
    reason,
    installed: [],
    skipped: [],
    durationMs: 0,
  });
  if (!options.preinstall) return skip("--no-preinstall");
  const lookup = (name: string) => env[name];
  const detection = detectInit(options.command, lookup);
  if (detection.kind !== "init") return skip(detection.reason);
  const blocker = await cliSetupBlocker(user, lookup);
  if (blocker !== undefined) return skip(blocker);
  return await preinstallProviders({ runtime, cacheDir, workDir, env: lookup, signal });
}

/** Runs `work` with SIGINT/SIGTERM aborting `controller` instead of killing the process. */
async function withInterrupt<T>(controller: AbortController, work: () => Promise<T>): Promise<T> {
  const handler = () => controller.abort(new Error("interrupted"));
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const added: Deno.Signal[] = [];
  for (const s of signals) {
    try {
      Deno.addSignalListener(s, handler);
      added.push(s);
    } catch {
      // Not supported here.
    }
  }
  try {
    return await work();
  } finally {
    for (const s of added) Deno.removeSignalListener(s, handler);
  }
}

/**
 * Registry hosts and git hosts (HTTPS, and plain HTTP from `git::http://` sources) the
 * configuration in `dir` uses (best effort).
 */
async function scanConfiguration(
  dir: string,
): Promise<{ registryHosts: string[]; gitHosts: string[]; plainHttpGitHosts: string[] }> {
  const registry = new Set(DEFAULT_REGISTRY_HOSTS);
  const git = new Set<string>();
  const plainHttpGit = new Set<string>();
  try {
    const requirements = await readConfigRequirements(dir);
    for (const host of requirements.hosts) registry.add(host);
    for (const call of requirements.remoteModuleCalls) {
      const remote = gitRemoteHost(call.source);
      if (remote !== undefined) (remote.scheme === "https" ? git : plainHttpGit).add(remote.host);
    }
  } catch (error) {
    console.error(
      `tfcache: warning: cannot read the configuration in "${dir}" to find registry hosts ` +
        `(only ${DEFAULT_REGISTRY_HOSTS.join(" and ")} go through the cache): ${
          describeError(error)
        }`,
    );
  }
  return {
    registryHosts: [...registry].sort(),
    gitHosts: [...git].sort(),
    plainHttpGitHosts: [...plainHttpGit].sort(),
  };
}

/**
 * A host block replaces the host's whole discovery document, so services other than the two the
 * cache serves (login.v1, tfe.v2 for a `cloud` backend…) are passed through as absolute URLs.
 * Offline, only the cache's services are offered.
 */
async function otherServices(runtime: CacheRuntime, host: string): Promise<Record<string, string>> {
  // The public registries offer only the two services the cache serves: no lookup needed.
  if (DEFAULT_REGISTRY_HOSTS.includes(host)) return {};
  try {
    const found = await runtime.discovery.discover(host, { signal: AbortSignal.timeout(5_000) });
    const services: Record<string, string> = {};
    for (const [id, value] of Object.entries(found.services)) {
      if (id === "providers.v1" || id === "modules.v1") continue;
      if (typeof value === "string") services[id] = new URL(value, found.documentUrl).href;
    }
    return services;
  } catch {
    return {};
  }
}

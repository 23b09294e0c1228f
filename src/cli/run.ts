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
import { loadUserCliConfig, renderCliConfig } from "./cli_config.ts";
import type { Command } from "./command.ts";
import { loadCredentials } from "./credentials.ts";
import { gitRemoteHost } from "./git_hosts.ts";
import { lockAfterRun } from "./lock.ts";
import { describeError } from "./describe_error.ts";
import { parseRunArgs } from "./run_args.ts";

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
        };
        await Deno.writeTextFile(options.reportJson, JSON.stringify(report, null, 2) + "\n");
      }
    }
  }
}

/** The directory terraform runs in: its `-chdir=DIR` option, when given. */
function chdirOf(command: string[]): string | undefined {
  for (const arg of command.slice(1)) {
    if (arg.startsWith("-chdir=")) return arg.slice("-chdir=".length);
    if (!arg.startsWith("-")) break;
  }
  return undefined;
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

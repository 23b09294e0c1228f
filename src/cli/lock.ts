/**
 * `tfcache lock [DIR] [--platform OS_ARCH]... [--upgrade] [--provider ADDR]...`: the fast,
 * cache-backed equivalent of `terraform providers lock`. Also completes the lock file for
 * `tfcache run --lock-platform` (see {@linkcode lockAfterRun}).
 *
 * @module
 */

import { relative } from "node:path";
import { FileStore } from "../proxy/file_store.ts";
import type { Platform } from "../registry/platform.ts";
import { platformString } from "../registry/platform.ts";
import { resolveCacheDir } from "./cache_dir.ts";
import { type CacheRuntime, startCacheRuntime } from "./cache_runtime.ts";
import { loadUserCliConfig } from "./cli_config.ts";
import type { Command } from "./command.ts";
import { describeError } from "./describe_error.ts";
import { loadCredentials } from "./credentials.ts";
import { parseLockArgs, parsePlatformArg } from "./lock_args.ts";
import { LockProgress, type ProgressSink } from "./lock_progress.ts";
import { lockProviders, type LockProvidersResult } from "./lock_run.ts";
import { CachedProviderSource } from "./lock_source.ts";

const HELP = `tfcache lock — write .terraform.lock.hcl for several platforms, through the cache

Usage:
  tfcache lock [DIR] [options]

The fast equivalent of "terraform providers lock": it records, for every provider the
configuration in DIR (default: the current directory) requires, the checksums that let
"terraform init" install it on each platform you name — the h1: hash of each requested
platform's package and the zh: hash of every platform listed in the provider's signed
SHA256SUMS — exactly the set, and the byte format, terraform writes.

Examples:
  tfcache lock --platform linux_amd64 --platform darwin_arm64 --platform windows_amd64
  tfcache lock infra/ --upgrade
  tfcache lock --provider hashicorp/aws --platform linux_arm64

Options:
  --platform OS_ARCH   Record checksums for this platform (repeatable). Default: only the
                       platform tfcache runs on, as terraform does.
  --upgrade            Ignore the versions in the lock file and select the newest version that
                       meets every constraint. Without it a locked version is kept (it must
                       still meet the constraints) and new checksums are added to its entry.
  --provider ADDR      Only lock this provider, e.g. hashicorp/aws (repeatable). It must be
                       required by the configuration.
  --cache-dir DIR      Cache directory (default: $TFCACHE_CACHE_DIR, else
                       $XDG_CACHE_HOME/tfcache, else ~/.cache/tfcache)
  --parallel N         Packages fetched at once (default 4)
  -h, --help           Show this help

How it works:
  Constraints are read from the root module and every local child module (and modules
  "terraform init" already installed) and intersected; the newest published version meeting
  them all is selected (prereleases only when named exactly). Every package and checksum file
  is fetched through the tfcache cache, so a warm cache needs no network for packages and a
  cold run fills the same cache "tfcache run" uses. tfcache verifies the SHA256SUMS signature
  against the registry's keys (HashiCorp's key for hashicorp/* on registry.terraform.io) and
  each zip against the signed SHA256SUMS before anything is written.

  An existing lock file is merged, not replaced: providers not being locked are untouched,
  and when a provider's version is unchanged its hashes for other platforms are kept. The file
  is written atomically, and only if every package checked out.

Exit status: 0 on success, 1 on errors (no version meets the constraints, provider not found,
platform not published, invalid signature or checksum), 2 on usage errors.
`;

/** The `lock` command. */
export const lockCommand: Command = {
  name: "lock",
  summary: "Write .terraform.lock.hcl for several platforms, fast, through the cache",
  help: HELP,
  run: runLock,
};

async function runLock(args: string[]): Promise<number> {
  const options = parseLockArgs(args);
  const env = Deno.env.toObject();
  const cacheDir = resolveCacheDir(options.cacheDir, (name) => env[name]);
  const user = await loadUserCliConfig((name) => env[name]);
  const credentials = await loadCredentials(user, env);
  const runtime = await startCacheRuntime({
    cacheDir,
    credentials,
    hostOverrides: Object.fromEntries(user.hosts),
    env,
    log: (level, message) => {
      if (level === "error") console.error(`tfcache: ${level}: ${message}`);
    },
  });
  const progress = LockProgress.forStderr();
  const started = performance.now();
  try {
    const result = await lockWithRuntime(runtime, cacheDir, {
      dir: options.dir,
      platforms: options.platforms,
      upgrade: options.upgrade,
      providers: options.providers,
      parallelism: options.parallelism,
      progress,
    });
    progress.close();
    console.error(summaryLine(result, performance.now() - started));
    return 0;
  } finally {
    progress.close();
    await runtime.close();
  }
}

/** Options of {@linkcode lockWithRuntime}. */
export interface LockWithRuntimeOptions {
  /** The root module directory. */
  dir: string;
  /** Platforms (empty: the current one). */
  platforms: readonly Platform[];
  /** `--upgrade`. */
  upgrade: boolean;
  /** `--provider` filter. */
  providers: readonly string[];
  /** Packages fetched at once. */
  parallelism?: number;
  /** Progress display. */
  progress: ProgressSink;
}

/**
 * Locks providers through an already running cache.
 *
 * @param runtime The running cache.
 * @param cacheDir Its directory (for the packages' `h1:` sidecars).
 * @param options What to lock.
 * @returns What was locked and written.
 */
export async function lockWithRuntime(
  runtime: CacheRuntime,
  cacheDir: string,
  options: LockWithRuntimeOptions,
): Promise<LockProvidersResult> {
  const store = new FileStore(cacheDir);
  return await lockProviders({
    ...options,
    source: (hosts) =>
      new CachedProviderSource({
        baseUrl: runtime.httpBaseUrl,
        hosts,
        store,
        idle: (key) => runtime.handler.idle(key),
      }),
  });
}

/**
 * `tfcache run --lock-platform`: after the command succeeded, completes the working directory's
 * lock file for `platforms` through the same running cache. Prints its own errors.
 *
 * @param runtime The cache `run` started (still open).
 * @param cacheDir Its directory.
 * @param dir The working directory of the command.
 * @param platforms The `--lock-platform` values.
 * @returns 0 on success, 1 when locking failed, 2 for an invalid platform.
 */
export async function lockAfterRun(
  runtime: CacheRuntime,
  cacheDir: string,
  dir: string,
  platforms: readonly string[],
): Promise<number> {
  let parsed: Platform[];
  try {
    parsed = platforms.map((p) => parsePlatformArg(p, "run"));
  } catch (error) {
    console.error(`tfcache: error: ${describeError(error)}`);
    return 2;
  }
  const progress = LockProgress.forStderr();
  const started = performance.now();
  try {
    const result = await lockWithRuntime(runtime, cacheDir, {
      dir,
      platforms: parsed,
      upgrade: false,
      providers: [],
      progress,
    });
    progress.close();
    console.error(`tfcache: ${summaryLine(result, performance.now() - started)}`);
    return 0;
  } catch (error) {
    progress.close();
    console.error(
      `tfcache: error: cannot complete the lock file for ${
        parsed.map(platformString).join(", ")
      }: ${describeError(error)}`,
    );
    return 1;
  }
}

function summaryLine(result: LockProvidersResult, ms: number): string {
  const file = relative(Deno.cwd(), result.path) || result.path;
  const added = result.changes.reduce((n, c) => n + c.addedHashes.length, 0);
  const what = result.written
    ? `updated ${file}: ${result.changes.length} provider(s), ${added} new hash(es)`
    : `${file} is already up to date (${result.changes.length} provider(s))`;
  const { total, cached } = result.packages;
  return `${what}; ${total} package(s) checked, ${cached} from the cache, in ${
    (ms / 1000).toFixed(1)
  } s`;
}

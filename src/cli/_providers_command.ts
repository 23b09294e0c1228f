/**
 * The setup `tfcache providers install` and `tfcache providers mirror` share: the cache and
 * configuration directories, the output, the configuration's requirements and lock file, and a
 * cache-backed provider source whose downloads show on the output's status line.
 *
 * @module
 */

import { resolve } from "node:path";
import { resolveCacheDir } from "./cache_dir.ts";
import {
  type DependencyLocks,
  formatLockWarnings,
  type ProviderRequirementList,
  readDependencyLocks,
  readProviderRequirements,
} from "./providers_config.ts";
import { ProvidersOutput } from "./providers_progress.ts";
import { type CachedProviderSource, openCachedProviderSource } from "./providers_source.ts";

/** What a providers command works with once its arguments are parsed. */
export interface ProvidersCommandSetup extends ProviderRequirementList {
  /** The process environment. */
  readonly env: Record<string, string>;
  /** The resolved cache directory. */
  readonly cacheDir: string;
  /** The absolute configuration directory. */
  readonly dir: string;
  /** Line output with the download status line, on standard output. */
  readonly out: ProvidersOutput;
}

/**
 * Resolves the directories, opens the output and reads the configuration's provider
 * requirements.
 *
 * @param options `--cache-dir` (when given) and the configuration directory.
 * @returns The setup.
 * @throws {import("./providers_config.ts").ProvidersConfigError} when the configuration cannot be
 *   read.
 */
export async function prepareProvidersCommand(
  options: { readonly cacheDir: string | undefined; readonly dir: string },
): Promise<ProvidersCommandSetup> {
  const env = Deno.env.toObject();
  const cacheDir = resolveCacheDir(options.cacheDir, (name) => env[name]);
  const dir = resolve(options.dir);
  const out = ProvidersOutput.forStdout();
  const { requirements, hosts } = await readProviderRequirements(dir);
  return { env, cacheDir, dir, out, requirements, hosts };
}

/**
 * Reads the configuration's dependency lock file and prints its warnings on standard error.
 *
 * @param dir The configuration directory.
 * @returns The locks.
 * @throws {import("../lock/lock_reader.ts").LockFileError} when the lock file is invalid.
 */
export async function readLocksWithWarnings(dir: string): Promise<DependencyLocks> {
  const lock = await readDependencyLocks(dir);
  for (const line of formatLockWarnings(lock.warnings)) console.error(line);
  return lock;
}

/**
 * Starts the cache on the setup's cache directory with a provider source through it; package
 * downloads show on the status line and the cache's warnings as lines.
 *
 * @param setup The command's setup.
 * @param label The status-line label of a package URL.
 * @param onStarted Called with each package URL as its download starts.
 * @returns The source; dispose it to stop the cache.
 */
export async function openProvidersCache(
  setup: ProvidersCommandSetup,
  label: (url: string) => string,
  onStarted: (url: string) => void = () => {},
): Promise<CachedProviderSource> {
  const { out } = setup;
  return await openCachedProviderSource({
    cacheDir: setup.cacheDir,
    hosts: setup.hosts,
    env: setup.env,
    downloads: {
      started(url, total) {
        onStarted(url);
        out.downloadStarted(url, label(url), total);
        return (received, done) => {
          if (done) out.downloadEnded(url);
          else out.downloadProgress(url, received);
        };
      },
    },
    warn: (message) => out.line(message),
  });
}

/**
 * The `tfcache lock` algorithm, shared by `tfcache lock` and `tfcache run --lock-platform`:
 * read the configuration's provider requirements and the existing lock file, select a version
 * per provider, fetch every (provider, platform) package through a running cache in parallel,
 * check it, and merge `h1:` of each requested platform plus `zh:` of every platform in the signed
 * SHA256SUMS into the lock file — the hash set `terraform providers lock` writes.
 *
 * Nothing is written unless every package checks out.
 *
 * @module
 */

import { join } from "node:path";
import {
  type ProviderConstraintSource,
  readConfigRequirements,
} from "../config/config_requirements.ts";
import { providerIsLockable } from "../lock/lock_file.ts";
import { hasErrors, LockFileError, readLockFile } from "../lock/lock_reader.ts";
import { formatLockFile, saveLockFile } from "../lock/lock_writer.ts";
import { LockFile } from "../lock/lock_file.ts";
import { mapBounded } from "../mirrors/_bounded.ts";
import { PlatformNotAvailableError, ProviderNotFoundError } from "../registry/errors.ts";
import { currentPlatform, type Platform, platformString } from "../registry/platform.ts";
import {
  parseProviderSource,
  type ProviderAddress,
  providerAddressString,
} from "../registry/provider_address.ts";
import type { ProviderDownload, ProviderVersion } from "../registry/registry_client.ts";
import { type Version, versionString } from "../registry/version.ts";
import {
  LockProviderNotFoundError,
  PlatformNotPublishedError,
  ProviderNotRequiredError,
} from "./lock_errors.ts";
import { mergeLockUpdates, type ProviderLockChange } from "./lock_merge.ts";
import { formatBytes, type ProgressSink } from "./lock_progress.ts";
import { selectProviderVersion } from "./lock_select.ts";
import type { CachedProviderSource } from "./lock_source.ts";

/** The file name of the dependency lock file. */
export const LOCK_FILE_NAME = ".terraform.lock.hcl";

/** Options for {@linkcode lockProviders}. */
export interface LockProvidersOptions {
  /** The root module directory. */
  dir: string;
  /** Platforms to record; empty means the current platform. */
  platforms: readonly Platform[];
  /** Ignore locked versions and select the newest that meets the constraints. */
  upgrade: boolean;
  /** Only these providers (addresses as given); empty means all the configuration requires. */
  providers: readonly string[];
  /** Makes the source once the registry hosts are known. */
  source: (hosts: readonly string[]) => CachedProviderSource;
  /** Most packages fetched at once (default 4). */
  parallelism?: number;
  /** Progress display. */
  progress: ProgressSink;
}

/** What {@linkcode lockProviders} did. */
export interface LockProvidersResult {
  /** The lock file path. */
  path: string;
  /** Per provider locked. */
  changes: ProviderLockChange[];
  /** Whether the file's bytes changed. */
  written: boolean;
  /** Packages fetched, and how many of them the cache already had. */
  packages: { total: number; cached: number; bytes: number };
}

interface _Plan {
  address: ProviderAddress;
  display: string;
  sources: readonly ProviderConstraintSource[];
}

interface _Selected extends _Plan {
  version: string;
  parsed: Version;
  constraints: string;
  published: readonly string[];
}

/**
 * Locks the providers of the configuration in `options.dir` (see the module documentation).
 *
 * @param options Directory, platforms, upgrade, provider filter, source and progress.
 * @returns What was locked and written.
 * @throws {ProviderNotRequiredError} for a `--provider` the configuration does not require.
 * @throws {LockFileError} when the existing lock file is invalid.
 * @throws {import("./lock_errors.ts").NoMatchingVersionError} and the other errors of
 *   `lock_errors.ts` for versions, registries, platforms, signatures and checksums.
 */
export async function lockProviders(options: LockProvidersOptions): Promise<LockProvidersResult> {
  const platforms = options.platforms.length > 0 ? options.platforms : [currentPlatform()];
  const requirements = await readConfigRequirements(options.dir);
  const path = join(options.dir, LOCK_FILE_NAME);
  const { lockFile: old, text: oldText, tool } = await readExistingLock(path);

  const plans: _Plan[] = [];
  for (const [key, sources] of requirements.providers) {
    const address = parseProviderSource(key);
    if (!providerIsLockable(address)) continue;
    plans.push({ address, display: providerAddressString(address), sources });
  }
  const wanted = filterProviders(plans, options.providers);

  const source = options.source([...new Set(wanted.map((p) => p.address.hostname))].sort());
  const selected = await Promise.all(wanted.map(async (plan): Promise<_Selected> => {
    let versions: ProviderVersion[];
    try {
      versions = await source.versions(plan.address);
    } catch (error) {
      if (error instanceof ProviderNotFoundError) {
        throw new LockProviderNotFoundError(plan.display, plan.sources);
      }
      throw error;
    }
    const pick = selectProviderVersion({
      provider: plan.display,
      sources: plan.sources,
      available: versions.map((v) => v.version),
      locked: old.provider(plan.address)?.version,
      upgrade: options.upgrade,
    });
    const version = versionString(pick.version);
    const entry = versions.find((v) => v.version === version);
    return {
      ...plan,
      version,
      parsed: pick.version,
      constraints: pick.constraints,
      published: entry?.platforms.map(platformString) ?? [],
    };
  }));

  // Every unpublished platform is reported at once, before anything is downloaded.
  const missing: PlatformNotPublishedError[] = [];
  for (const s of selected) {
    for (const p of platforms) {
      if (s.published.length > 0 && !s.published.includes(platformString(p))) {
        missing.push(
          new PlatformNotPublishedError(s.display, s.version, platformString(p), s.published),
        );
      }
    }
  }
  if (missing.length === 1) throw missing[0];
  if (missing.length > 1) throw new AggregateLockError(missing);

  const tasks = selected.flatMap((s) => platforms.map((platform) => ({ s, platform })));
  const packages = { total: 0, cached: 0, bytes: 0 };
  const results = await mapBounded(tasks, options.parallelism ?? 4, async ({ s, platform }) => {
    const id = `${s.display} ${s.version} ${platformString(platform)}`;
    const label = `${s.address.type} ${platformString(platform)}`;
    options.progress.start(id, label);
    let download: ProviderDownload;
    try {
      download = await source.download(s.address, s.version, platform);
    } catch (error) {
      if (error instanceof ProviderNotFoundError) {
        throw new LockProviderNotFoundError(s.display, s.sources);
      }
      if (error instanceof PlatformNotAvailableError) {
        throw new PlatformNotPublishedError(s.display, s.version, platformString(platform), []);
      }
      throw error;
    }
    const checksums = await source.checksums(s.address, s.version, download);
    const pkg = await source.fetchPackage(
      s.address,
      s.version,
      platform,
      download,
      checksums,
      (bytes, total) => options.progress.progress(id, bytes, total),
    );
    packages.total++;
    packages.bytes += pkg.size;
    if (pkg.wasCached) packages.cached++;
    options.progress.finish(
      id,
      `- ${id}: ${pkg.wasCached ? "cached" : "downloaded"} (${
        formatBytes(pkg.size)
      }, ${checksums.auth.label}, key ID ${checksums.auth.keyId})`,
    );
    return { s, h1: pkg.h1, zh: checksums.sums.zhHashes() };
  });

  const updates = selected.map((s) => {
    const mine = results.filter((r) => r.s === s);
    return {
      address: s.address,
      version: s.parsed,
      constraints: s.constraints,
      hashes: [...mine.map((r) => r.h1), ...mine.flatMap((r) => r.zh)],
    };
  });
  const { lock, changes } = mergeLockUpdates(old, updates);
  const text = formatLockFile(lock, { tool });
  const written = text !== oldText;
  if (written) await saveLockFile(path, lock, { tool });
  return { path, changes, written, packages };
}

/** Several problems found at once (e.g. platforms not published by several providers). */
export class AggregateLockError extends Error {
  /** The individual errors. */
  readonly errors: readonly Error[];

  /**
   * @param errors The individual errors.
   */
  constructor(errors: readonly Error[]) {
    super(errors.map((e) => e.message).join("\n"));
    this.name = "AggregateLockError";
    this.errors = errors;
  }
}

/** Reads the existing lock file: empty when absent; invalid files are an error. */
async function readExistingLock(
  path: string,
): Promise<{ lockFile: LockFile; text: string | undefined; tool: string }> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { lockFile: new LockFile(), text: undefined, tool: "terraform" };
    }
    throw error;
  }
  const read = await readLockFile(path);
  if (hasErrors(read.diagnostics)) throw new LockFileError(read.diagnostics);
  return { lockFile: read.lockFile, text, tool: read.headerTool ?? "terraform" };
}

/** Applies `--provider`: each must be required by the configuration. */
function filterProviders(plans: readonly _Plan[], given: readonly string[]): _Plan[] {
  if (given.length === 0) return [...plans];
  const out: _Plan[] = [];
  for (const arg of given) {
    const canonical = providerAddressString(parseProviderSource(arg));
    const plan = plans.find((p) => p.display === canonical);
    if (plan === undefined) {
      throw new ProviderNotRequiredError(arg, canonical, plans.map((p) => p.display));
    }
    if (!out.includes(plan)) out.push(plan);
  }
  return out;
}

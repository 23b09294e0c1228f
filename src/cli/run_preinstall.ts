/**
 * Pre-installing providers for `tfcache run -- terraform init`: before the child starts, the
 * providers the lock file pins are linked into the working directory's `.terraform/providers`
 * from tfcache's unpacked global cache (unpacking once, under cross-process locks, from the zip
 * the running cache serves), exactly as `tfcache providers install` does but without touching
 * the lock file. terraform then finds each package installed, checks it against the lock file's
 * `h1:` hashes ("Using previously-installed …"), downloads nothing and writes the lock file
 * itself.
 *
 * It is an optimisation and must never break an init: every problem becomes a reason in the
 * {@linkcode PreinstallReport} (a one-line warning for real failures), and a package that
 * terraform would not accept is unlinked again so that terraform installs it into its own
 * directory (it would otherwise unpack over the shared cache through the link).
 *
 * @module
 */

import { join, resolve } from "node:path";
import { Dir } from "../providercache/dir.ts";
import { InstallerError } from "../providercache/errors.ts";
import { Installer, type Requirements } from "../providercache/installer.ts";
import { HASH_SCHEME_V1, HASH_SCHEME_ZIP } from "../registry/hashes.ts";
import {
  isBuiltIn,
  type ProviderAddress,
  providerAddressString,
} from "../registry/provider_address.ts";
import { type Version, versionString } from "../registry/version.ts";
import type { VersionConstraints } from "../registry/version_constraints.ts";
import type { EnvLookup } from "./cache_dir.ts";
import type { CacheRuntime } from "./cache_runtime.ts";
import { terraformConfigDir, type UserCliConfig } from "./cli_config.ts";
import { describeError } from "./describe_error.ts";
import { readDependencyLocks, readProviderRequirements } from "./providers_config.ts";
import { UNPACKED_DIR_NAME } from "./providers_install.ts";
import { providerSourceThroughCache } from "./providers_source.ts";

/** What pre-installing did, for the warning lines and the JSON savings report. */
export interface PreinstallReport {
  /**
   * `done`: it ran (see `installed` and `skipped`); `skipped`: not applicable, see `reason`;
   * `failed`: given up on an error, see `reason`; `disabled`: `--no-preinstall`.
   */
  status: "done" | "skipped" | "failed" | "disabled";
  /** Why it was skipped or failed as a whole. */
  reason?: string;
  /** `<address> <version>` of every provider terraform will find installed. */
  installed: string[];
  /**
   * Providers left to terraform, with the reason; `failed` when pre-installing it went wrong
   * (rather than not being applicable).
   */
  skipped: { provider: string; reason: string; failed: boolean }[];
  /** Wall time spent, in milliseconds. */
  durationMs: number;
}

/** Options for {@linkcode preinstallProviders}. */
export interface PreinstallOptions {
  /** The cache `tfcache run` started (its HTTP front end serves the packages). */
  runtime: CacheRuntime;
  /** The cache directory (the unpacked cache is `<cacheDir>/unpacked`). */
  cacheDir: string;
  /** The directory terraform runs in (after `-chdir`). */
  workDir: string;
  /** The environment the child gets (for `TF_DATA_DIR`). */
  env: EnvLookup;
  /** Aborts the pre-install (Ctrl-C). */
  signal?: AbortSignal;
}

/**
 * Why the user's CLI setup rules out pre-installing, if it does: their own
 * `provider_installation` (mirrors, `dev_overrides`), terraform's plugin cache
 * (`plugin_cache_dir`, `TF_PLUGIN_CACHE_DIR`), or reattached providers.
 *
 * @param user The user's main CLI configuration.
 * @param env The environment.
 * @returns The reason, or `undefined` when nothing stands in the way.
 */
export async function cliSetupBlocker(
  user: UserCliConfig,
  env: EnvLookup,
): Promise<string | undefined> {
  if ((env("TF_PLUGIN_CACHE_DIR") ?? "") !== "") {
    return "TF_PLUGIN_CACHE_DIR is set: terraform's own plugin cache is in use";
  }
  if ((env("TF_REATTACH_PROVIDERS") ?? "") !== "") {
    return "TF_REATTACH_PROVIDERS is set: some providers run outside terraform";
  }
  const where = user.path ?? "the CLI configuration";
  if (user.hasProviderInstallation) return `${where} has its own provider_installation block`;
  if (user.hasPluginCacheDir) return `${where} sets plugin_cache_dir`;
  // terraform also reads every *.tfrc / *.tfrc.json file of its configuration directory.
  const dir = terraformConfigDir(env);
  if (dir === undefined) return undefined;
  let names: string[];
  try {
    names = (await Array.fromAsync(Deno.readDir(dir)))
      .filter((e) => !e.isDirectory && /\.tfrc(\.json)?$/.test(e.name))
      .map((e) => e.name);
  } catch {
    return undefined; // No configuration directory.
  }
  for (const name of names.sort()) {
    let text: string;
    try {
      text = await Deno.readTextFile(join(dir, name));
    } catch {
      continue;
    }
    const found = /\b(provider_installation|plugin_cache_dir)\b/.exec(text);
    if (found !== null) return `${join(dir, name)} sets ${found[1]}`;
  }
  return undefined;
}

/**
 * Pre-installs the locked providers of the configuration in `workDir` into its
 * `.terraform/providers` (or `$TF_DATA_DIR/providers`), through the running cache. Never
 * throws: problems are reported.
 *
 * Only providers the configuration requires, with a lock entry holding an `h1:` hash (what
 * terraform checks an installed package against) and a `zh:` hash (so the zip is verified too,
 * and the lock file looks like one terraform wrote from a registry), are pre-installed, at
 * exactly the locked version, in `new-only` mode. Afterwards each linked package must match one
 * of the entry's `h1:` hashes, or it is unlinked again.
 *
 * @param options The running cache, directories and environment.
 * @returns What was done.
 */
export async function preinstallProviders(options: PreinstallOptions): Promise<PreinstallReport> {
  const started = performance.now();
  const skipped: PreinstallReport["skipped"] = [];
  const installed: string[] = [];
  const done = (status: PreinstallReport["status"], reason?: string): PreinstallReport => ({
    status,
    ...(reason === undefined ? {} : { reason }),
    installed,
    skipped,
    durationMs: Math.round(performance.now() - started),
  });
  try {
    const workDir = resolve(options.workDir);
    const lock = await readDependencyLocks(workDir);
    if (!lock.exists) return done("skipped", "no .terraform.lock.hcl in the working directory");
    const { requirements, hosts } = await readProviderRequirements(workDir);

    const wanted: [ProviderAddress, VersionConstraints][] = [];
    const locked = new Map<string, { version: Version; h1: string[] }>();
    for (const [provider, constraints] of requirements) {
      if (isBuiltIn(provider)) continue;
      const key = providerAddressString(provider);
      const entry = lock.locks.provider(provider);
      if (entry === undefined) {
        skipped.push({ provider: key, reason: "not in the lock file", failed: false });
        continue;
      }
      const h1 = entry.hashes.filter((h) => h.startsWith(HASH_SCHEME_V1));
      if (h1.length === 0 || !entry.hashes.some((h) => h.startsWith(HASH_SCHEME_ZIP))) {
        skipped.push({
          provider: key,
          reason: "its lock entry lacks h1: or zh: hashes",
          failed: false,
        });
        continue;
      }
      wanted.push([provider, constraints]);
      locked.set(key, { version: entry.version, h1 });
    }
    if (wanted.length === 0) return done("skipped", "no locked provider to pre-install");

    const dataDir = resolve(workDir, options.env("TF_DATA_DIR") || ".terraform");
    const target = new Dir(join(dataDir, "providers"));
    // Packages present before: terraform's business, never unlinked by us.
    const present = new Set<string>();
    for (const [provider] of wanted) {
      const v = locked.get(providerAddressString(provider))!.version;
      if (await target.providerVersion(provider, v) !== undefined) {
        present.add(providerAddressString(provider));
      }
    }
    const through = providerSourceThroughCache(options.runtime, {
      cacheDir: options.cacheDir,
      hosts,
    });
    const installer = new Installer({
      targetDir: target,
      source: through.source,
      globalCacheDir: new Dir(join(options.cacheDir, UNPACKED_DIR_NAME)),
      builtInProviderTypes: ["terraform"],
      productName: "Terraform",
      commandName: "terraform",
      fetch: through.fetch,
    });
    const failed = new Set<string>();
    // What the installer already proved (each proof saves hashing the package again): a package
    // it found matching the lock's hashes, or the h1: it computed while unpacking.
    const matched = new Set<string>();
    const unpackedHash = new Map<string, string>();
    try {
      await installer.ensureProviderVersions(lock.locks, wanted as Requirements, "new-only", {
        signal: options.signal,
        events: {
          providerAlreadyInstalled: (p) => matched.add(providerAddressString(p)),
          providersLockUpdated: (p, _v, local) => {
            if (local[0] !== undefined) unpackedHash.set(providerAddressString(p), local[0]);
          },
        },
      });
    } catch (error) {
      if (!(error instanceof InstallerError)) throw error;
      for (const f of error.failures) {
        const key = providerAddressString(f.provider);
        failed.add(key);
        skipped.push({ provider: key, reason: through.describe(f.error), failed: true });
      }
    }

    // terraform accepts an installed package only when it matches an h1: of the lock entry.
    for (const [provider] of wanted) {
      const key = providerAddressString(provider);
      const { version, h1 } = locked.get(key)!;
      const entry = await target.providerVersion(provider, version);
      if (failed.has(key)) {
        if (entry !== undefined && !present.has(key)) await _unlink(entry.packageDir);
        continue;
      }
      const label = `${key} ${versionString(version)}`;
      if (entry === undefined) {
        skipped.push({ provider: key, reason: "not found after installing", failed: true });
        continue;
      }
      const fresh = unpackedHash.get(key);
      const ok = matched.has(key) ||
        (fresh !== undefined
          ? h1.includes(fresh)
          : await entry.matchesAnyHash(h1).catch(() => false));
      if (ok) {
        installed.push(label);
        continue;
      }
      if (!present.has(key)) await _unlink(entry.packageDir);
      skipped.push({
        provider: key,
        reason: "the package does not match the lock file's h1: hashes (none for this platform?)",
        failed: true,
      });
    }
    return done("done");
  } catch (error) {
    if (options.signal?.aborted) return done("failed", "interrupted");
    return done("failed", describeError(error).replaceAll(options.runtime.httpBaseUrl.href, ""));
  }
}

/**
 * The warning lines for a report: one when pre-installing failed as a whole, one per provider
 * that failed. Reasons for not applying (no lock file, `-upgrade`, the user's own setup, a lock
 * entry without `h1:`) are only in the JSON report.
 *
 * @param report The report.
 * @returns Lines for standard error, each starting with `tfcache: pre-install skipped`.
 */
export function preinstallWarnings(report: PreinstallReport): string[] {
  const lines: string[] = [];
  if (report.status === "failed" && report.reason !== undefined) {
    lines.push(`tfcache: pre-install skipped: ${_oneLine(report.reason)}`);
  }
  for (const s of report.skipped) {
    if (!s.failed) continue;
    lines.push(`tfcache: pre-install skipped for ${s.provider}: ${_oneLine(s.reason)}`);
  }
  return lines;
}

function _oneLine(text: string): string {
  const line = text.replaceAll(/\s*\n\s*/g, " ").trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

async function _unlink(path: string): Promise<void> {
  try {
    const info = await Deno.lstat(path);
    await Deno.remove(path, { recursive: !info.isSymlink });
  } catch {
    // Already gone; terraform installs over whatever is left.
  }
}

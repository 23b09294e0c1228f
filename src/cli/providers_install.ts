/**
 * `tfcache providers install [DIR] [--upgrade] [--cache-dir DIR]`: makes `DIR/.terraform/providers`
 * hold what `terraform init` would install there for the configuration's requirements and its
 * dependency lock file, and updates the lock file as `init` does — so that a later
 * `terraform init` finds every provider already installed and downloads nothing.
 *
 * Packages come through a tfcache cache started on the cache directory (so zips are verified
 * against the signed SHA256SUMS and shared with `tfcache run`), are unpacked once into a global
 * unpacked cache `<cache-dir>/unpacked/` (a `plugin_cache_dir` that only tfcache writes, with
 * cross-process locks) and linked from there into the working directory, as terraform does with
 * `plugin_cache_dir`.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { saveLockFile } from "../lock/lock_writer.ts";
import { Dir } from "../providercache/dir.ts";
import { InstallerError, type ProviderFailure } from "../providercache/errors.ts";
import { Installer, type InstallMode } from "../providercache/installer.ts";
import type { InstallerEvents } from "../providercache/installer_events.ts";
import {
  forDisplay,
  parseProviderSource,
  type ProviderAddress,
  providerAddressString,
} from "../registry/provider_address.ts";
import { type Version, versionString } from "../registry/version.ts";
import { constraintsString } from "../registry/version_constraints.ts";
import {
  openProvidersCache,
  prepareProvidersCommand,
  readLocksWithWarnings,
} from "./_providers_command.ts";
import { UsageError } from "./cli_error.ts";
import { LOCK_FILE_NAME } from "./providers_config.ts";
import type { ProvidersOutput } from "./providers_progress.ts";
import { flattenMessages } from "./providers_source.ts";

/** Name of the global unpacked provider cache inside the cache directory. */
export const UNPACKED_DIR_NAME = "unpacked";

/** Parsed `tfcache providers install` arguments. */
export interface ProvidersInstallArgs {
  /** `--cache-dir`. */
  readonly cacheDir: string | undefined;
  /** The configuration directory (default: the current directory). */
  readonly dir: string;
  /** `--upgrade`: select the newest allowed versions, ignoring the locked ones. */
  readonly upgrade: boolean;
}

/**
 * Parses the arguments after `providers install`.
 *
 * @param args The arguments.
 * @returns The options.
 * @throws {UsageError} on unknown options or more than one directory.
 */
export function parseProvidersInstallArgs(args: readonly string[]): ProvidersInstallArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: true,
      options: {
        "cache-dir": { type: "string" },
        upgrade: { type: "boolean" },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), "providers");
  }
  if (parsed.positionals.length > 1) {
    throw new UsageError(
      `providers install takes at most one directory, got ${parsed.positionals.length}: ${
        parsed.positionals.join(" ")
      }`,
      "providers",
    );
  }
  return {
    cacheDir: parsed.values["cache-dir"],
    dir: parsed.positionals[0] ?? ".",
    upgrade: parsed.values.upgrade ?? false,
  };
}

/** Some providers could not be installed; the lock file was left unchanged. Exit code 1. */
export class ProvidersInstallError extends Error {
  /** The failed providers with their errors. */
  readonly failures: readonly ProviderFailure[];

  /**
   * @param targetDir The `.terraform/providers` directory.
   * @param failures The failed providers.
   * @param describe Renders one failure's error (default {@linkcode flattenMessages}).
   */
  constructor(
    targetDir: string,
    failures: readonly ProviderFailure[],
    describe: (error: Error) => string = flattenMessages,
  ) {
    const n = failures.length;
    const lines = failures.map((f) =>
      `  - ${providerAddressString(f.provider)}: ${describe(f.error)}`
    );
    super(
      `failed to install ${n} provider${n === 1 ? "" : "s"} into ${targetDir}:\n${
        lines.join("\n")
      }\nThe dependency lock file was not changed. Fix the problems above (check the provider ` +
        `source addresses and version constraints, and that the registry is reachable) and run ` +
        `the command again.`,
    );
    this.name = "ProvidersInstallError";
    this.failures = failures;
  }
}

/**
 * Runs `tfcache providers install`.
 *
 * @param args The arguments after `providers install`.
 * @returns The exit code.
 * @throws {ProvidersInstallError} when providers failed to install.
 */
export async function runProvidersInstall(args: readonly string[]): Promise<number> {
  const options = parseProvidersInstallArgs(args);
  const setup = await prepareProvidersCommand(options);
  const { env, cacheDir, dir, out, requirements } = setup;
  const targetPath = join(dir, ".terraform", "providers");
  const lock = await readLocksWithWarnings(dir);

  const abort = new AbortController();
  const removeSignals = _onInterrupt(() => abort.abort(new Error("interrupted")));
  const downloadedUrls = new Set<string>();
  try {
    await using cache = await openProvidersCache(
      setup,
      _labelOfUrl,
      (url) => downloadedUrls.add(url),
    );
    const installer = new Installer({
      targetDir: new Dir(targetPath),
      source: cache.source,
      globalCacheDir: new Dir(join(cacheDir, UNPACKED_DIR_NAME)),
      builtInProviderTypes: ["terraform"],
      unmanagedProviders: _reattachedProviders(env["TF_REATTACH_PROVIDERS"]),
      productName: "Terraform",
      commandName: "tfcache providers install",
      fetch: cache.fetch,
    });
    out.line(`Installing providers for ${dir} (cache: ${cacheDir})`);
    const mode: InstallMode = options.upgrade ? "upgrade" : "new-only";
    let newLocks;
    try {
      newLocks = await installer.ensureProviderVersions(lock.locks, requirements, mode, {
        signal: abort.signal,
        events: _events(out, downloadedUrls, cache.describe),
      });
    } catch (error) {
      out.close();
      if (abort.signal.aborted) {
        console.error("error: interrupted; the dependency lock file was not changed");
        return 130;
      }
      if (error instanceof InstallerError) {
        throw new ProvidersInstallError(targetPath, error.failures, cache.describe);
      }
      throw error;
    } finally {
      out.close();
    }
    if (!newLocks.equals(lock.locks)) {
      await saveLockFile(lock.path, newLocks, { tool: lock.headerTool ?? "terraform" });
      out.line("");
      out.line(
        lock.exists
          ? `Updated the dependency lock file ${LOCK_FILE_NAME} with the selections made above.`
          : `Created the dependency lock file ${LOCK_FILE_NAME} to record the selections made ` +
            `above; commit it to version control.`,
      );
    }
    out.line("");
    out.line(
      requirements.length === 0
        ? "The configuration requires no providers."
        : `Providers are installed in ${targetPath}; "terraform init" will use them without downloading.`,
    );
    const report = cache.runtime.stats.formatReport();
    if (report !== "") console.error(`tfcache: ${report}`);
    return 0;
  } finally {
    removeSignals();
  }
}

function _events(
  out: ProvidersOutput,
  downloadedUrls: ReadonlySet<string>,
  describe: (error: unknown) => string,
): InstallerEvents {
  const fetchedFrom = new Map<string, string>();
  const show = (p: ProviderAddress) => forDisplay(p);
  const key = (p: ProviderAddress, v: Version) => `${providerAddressString(p)} ${versionString(v)}`;
  return {
    builtInProviderAvailable(p) {
      out.line(`- ${show(p)} is built in to Terraform`);
    },
    builtInProviderFailure(p, error) {
      out.line(`- ${show(p)}: ${error.message}`);
    },
    queryPackagesBegin(p, constraints, locked) {
      if (locked) {
        out.line(`- Reusing previous version of ${show(p)} from the dependency lock file`);
      } else if (constraints.length === 0) {
        out.line(`- Finding latest version of ${show(p)}...`);
      } else {
        out.line(`- Finding ${show(p)} versions matching "${constraintsString(constraints)}"...`);
      }
    },
    queryPackagesWarning(p, warnings) {
      for (const w of warnings) out.line(`- Warning from the registry about ${show(p)}: ${w}`);
    },
    providerAlreadyInstalled(p, v, inCache) {
      if (!inCache) out.line(`- Using previously-installed ${show(p)} v${versionString(v)}`);
    },
    fetchPackageBegin(p, v, location) {
      if (location.kind === "http") fetchedFrom.set(key(p, v), location.url);
      out.line(`- Installing ${show(p)} v${versionString(v)}...`);
    },
    fetchPackageSuccess(p, v, _localDir, auth) {
      const url = fetchedFrom.get(key(p, v));
      if (url !== undefined) out.downloadEnded(url);
      let detail = auth === undefined ? "unauthenticated" : auth.label;
      if (auth?.keyId !== undefined && auth.keyId !== "" && auth.label !== "signed by HashiCorp") {
        detail += `, key ID ${auth.keyId}`;
      }
      const where = url !== undefined && !downloadedUrls.has(url)
        ? " from the shared cache directory"
        : "";
      out.line(`- Installed ${show(p)} v${versionString(v)}${where} (${detail})`);
    },
    fetchPackageFailure(p, v, error) {
      const url = fetchedFrom.get(key(p, v));
      if (url !== undefined) out.downloadEnded(url);
      out.line(`- Failed to install ${show(p)} v${versionString(v)}: ${describe(error)}`);
    },
    linkFromCacheBegin(p, v) {
      if (!fetchedFrom.has(key(p, v))) {
        out.line(`- Using ${show(p)} v${versionString(v)} from the shared cache directory`);
      }
    },
    linkFromCacheFailure(p, v, error) {
      out.line(`- Failed to link ${show(p)} v${versionString(v)}: ${describe(error)}`);
    },
    cacheDirLockContended(dir) {
      out.line(`- Waiting for another process installing into ${dir}...`);
    },
  };
}

/** `…/terraform-provider-alpha_1.1.0_linux_amd64.zip` → `alpha 1.1.0 linux_amd64`. */
function _labelOfUrl(url: string): string {
  const name = url.slice(url.lastIndexOf("/") + 1);
  const m = /^terraform-provider-(.+?)_([^_]+)_(.+)\.zip$/.exec(name);
  return m === null ? name : `${m[1]} ${m[2]}`;
}

/** Providers terraform would treat as unmanaged (`TF_REATTACH_PROVIDERS`). */
function _reattachedProviders(value: string | undefined): ProviderAddress[] {
  if (value === undefined || value.trim() === "") return [];
  try {
    const doc: unknown = JSON.parse(value);
    if (typeof doc !== "object" || doc === null) return [];
    return Object.keys(doc).map(parseProviderSource);
  } catch {
    return [];
  }
}

function _onInterrupt(handler: () => void): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const added: Deno.Signal[] = [];
  for (const s of signals) {
    try {
      Deno.addSignalListener(s, handler);
      added.push(s);
    } catch {
      // Signal not supported here.
    }
  }
  return () => {
    for (const s of added) Deno.removeSignalListener(s, handler);
  };
}

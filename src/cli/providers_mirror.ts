/**
 * `tfcache providers mirror TARGET [--platform OS_ARCH]... [DIR]`: writes the packed provider
 * layout `terraform providers mirror` writes — `TARGET/HOST/NS/TYPE/terraform-provider-…zip`,
 * `index.json` and `<version>.json` per provider, byte for byte the same JSON — getting every
 * zip through the tfcache cache and checking it against the registry's signed SHA256SUMS (and
 * against the lock file's `zh:` hashes when it has any) before it is placed. The result serves
 * as a `filesystem_mirror` directory or, published on any static HTTP server, as a
 * `network_mirror` for networks without access to the registries.
 *
 * Versions: the locked version when the lock file has one (unless `--ignore-lock-file`), else
 * the newest version that meets the configuration's constraints — as terraform.
 *
 * @module
 */

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { MirrorWriter } from "../providercache/mirror_writer.ts";
import { removeAny } from "../providercache/package_install.ts";
import { zipHash } from "../registry/hashes.ts";
import {
  currentPlatform,
  parsePlatform,
  type Platform,
  platformString,
} from "../registry/platform.ts";
import {
  forDisplay,
  isBuiltIn,
  type ProviderAddress,
  providerAddressString,
} from "../registry/provider_address.ts";
import {
  compareVersions,
  type Version,
  versionEquals,
  versionString,
} from "../registry/version.ts";
import {
  constraintsString,
  meetsConstraints,
  type VersionConstraints,
} from "../registry/version_constraints.ts";
import {
  openProvidersCache,
  prepareProvidersCommand,
  readLocksWithWarnings,
} from "./_providers_command.ts";
import { UsageError } from "./cli_error.ts";
import type { ProvidersOutput } from "./providers_progress.ts";
import { flattenMessages } from "./providers_source.ts";

/** Parsed `tfcache providers mirror` arguments. */
export interface ProvidersMirrorArgs {
  /** `--cache-dir`. */
  readonly cacheDir: string | undefined;
  /** The mirror directory. */
  readonly target: string;
  /** The configuration directory (default: the current directory). */
  readonly dir: string;
  /** `--platform` values (default: this machine's platform). */
  readonly platforms: readonly Platform[];
  /** `--ignore-lock-file`: select versions from the constraints only. */
  readonly ignoreLockFile: boolean;
}

/**
 * Parses the arguments after `providers mirror`.
 *
 * @param args The arguments.
 * @param defaultPlatform The platform used when none is given.
 * @returns The options.
 * @throws {UsageError} on unknown options, a missing target or an invalid platform.
 */
export function parseProvidersMirrorArgs(
  args: readonly string[],
  defaultPlatform: Platform = currentPlatform(),
): ProvidersMirrorArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: true,
      options: {
        "cache-dir": { type: "string" },
        platform: { type: "string", multiple: true },
        "ignore-lock-file": { type: "boolean" },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), "providers");
  }
  const [target, dir, ...extra] = parsed.positionals;
  if (target === undefined || target === "") {
    throw new UsageError(
      "providers mirror needs the target directory, e.g. tfcache providers mirror ./mirror",
      "providers",
    );
  }
  if (extra.length > 0) {
    throw new UsageError(
      `providers mirror takes TARGET and at most one configuration directory; unexpected: ${
        extra.join(" ")
      }`,
      "providers",
    );
  }
  const platforms: Platform[] = [];
  for (const raw of parsed.values.platform ?? []) {
    let platform: Platform;
    try {
      platform = parsePlatform(raw);
    } catch (error) {
      throw new UsageError(
        `invalid --platform "${raw}": ${
          error instanceof Error ? error.message : String(error)
        }; use OS_ARCH, e.g. linux_amd64`,
        "providers",
      );
    }
    if (!platforms.some((p) => platformString(p) === platformString(platform))) {
      platforms.push(platform);
    }
  }
  return {
    cacheDir: parsed.values["cache-dir"],
    target,
    dir: dir ?? ".",
    platforms: platforms.length > 0 ? platforms : [defaultPlatform],
    ignoreLockFile: parsed.values["ignore-lock-file"] ?? false,
  };
}

/** One package that could not be mirrored. */
export interface MirrorFailure {
  /** The provider. */
  readonly provider: ProviderAddress;
  /** The platform, when the failure is about one package. */
  readonly platform: Platform | undefined;
  /** Why. */
  readonly error: Error;
}

/** Some packages could not be mirrored (the others were, and the indexes list them). Exit 1. */
export class ProvidersMirrorError extends Error {
  /** The failures. */
  readonly failures: readonly MirrorFailure[];

  /**
   * @param target The mirror directory.
   * @param failures The failures.
   * @param describe Renders one failure's error (default {@linkcode flattenMessages}).
   */
  constructor(
    target: string,
    failures: readonly MirrorFailure[],
    describe: (error: Error) => string = flattenMessages,
  ) {
    const lines = failures.map((f) =>
      `  - ${providerAddressString(f.provider)}${
        f.platform === undefined ? "" : ` (${platformString(f.platform)})`
      }: ${describe(f.error)}`
    );
    super(
      `failed to mirror ${failures.length} provider package${
        failures.length === 1 ? "" : "s"
      } into ${target}:\n${lines.join("\n")}\n` +
        `Packages that were mirrored are listed in the index files; fix the problems above and ` +
        `run the command again to complete the mirror.`,
    );
    this.name = "ProvidersMirrorError";
    this.failures = failures;
  }
}

/** A package whose archive does not match the dependency lock file. */
export class MirrorLockMismatchError extends Error {
  /**
   * @param provider The provider.
   * @param version The version.
   * @param actual The archive's `zh:` hash.
   */
  constructor(provider: ProviderAddress, version: Version, actual: string) {
    super(
      `the package of ${providerAddressString(provider)} ${
        versionString(version)
      } (${actual}) does not match any checksum recorded in the dependency lock file; if the provider was re-released on purpose, run with --ignore-lock-file or update the lock file`,
    );
    this.name = "MirrorLockMismatchError";
  }
}

/**
 * Runs `tfcache providers mirror`.
 *
 * @param args The arguments after `providers mirror`.
 * @returns The exit code.
 * @throws {ProvidersMirrorError} when packages could not be mirrored.
 */
export async function runProvidersMirror(args: readonly string[]): Promise<number> {
  const options = parseProvidersMirrorArgs(args);
  const setup = await prepareProvidersCommand(options);
  const { dir, out, requirements } = setup;
  const target = resolve(options.target);
  const lock = options.ignoreLockFile ? undefined : await readLocksWithWarnings(dir);

  await using cache = await openProvidersCache(
    setup,
    (url) => url.slice(url.lastIndexOf("/") + 1),
  );
  const writer = new MirrorWriter(target);
  const failures: MirrorFailure[] = [];
  try {
    for (const [provider, constraints] of requirements) {
      if (isBuiltIn(provider)) {
        out.line(`- Skipping ${forDisplay(provider)} because it is built in to Terraform CLI`);
        continue;
      }
      out.line(`- Mirroring ${forDisplay(provider)}...`);
      let version: Version;
      try {
        version = await _selectVersion(cache.source, provider, constraints, lock?.locks, out);
      } catch (error) {
        failures.push({ provider, platform: undefined, error: _asError(error) });
        out.line(`  - Failed: ${cache.describe(error)}`);
        continue;
      }
      const lockedZh = (lock?.locks.provider(provider)?.hashes ?? []).filter((h) =>
        h.startsWith("zh:")
      );
      for (const platform of options.platforms) {
        out.line(`  - Downloading package for ${platformString(platform)}...`);
        try {
          const added = await writer.addFromSource(cache.source, provider, version, platform, {
            fetch: cache.fetch,
          });
          const locked = lock?.locks.provider(provider);
          if (
            locked !== undefined && versionEquals(locked.version, version) &&
            lockedZh.length > 0
          ) {
            const zh = await zipHash(added.path);
            if (!lockedZh.includes(zh)) {
              await removeAny(added.path);
              throw new MirrorLockMismatchError(provider, version, zh);
            }
          }
          out.line(`  - Package authenticated: ${added.authentication}`);
        } catch (error) {
          failures.push({ provider, platform, error: _asError(error) });
          out.line(`  - Failed: ${cache.describe(error)}`);
        }
      }
    }
    await writer.writeIndexes();
  } finally {
    out.close();
  }
  const report = cache.runtime.stats.formatReport();
  if (report !== "") console.error(`tfcache: ${report}`);
  if (failures.length > 0) throw new ProvidersMirrorError(target, failures, cache.describe);
  return 0;
}

async function _selectVersion(
  source: {
    availableVersions(p: ProviderAddress): Promise<{ versions: readonly Version[] }>;
  },
  provider: ProviderAddress,
  constraints: VersionConstraints,
  locks: { provider(p: ProviderAddress): { version: Version } | undefined } | undefined,
  out: ProvidersOutput,
): Promise<Version> {
  const locked = locks?.provider(provider);
  if (locked !== undefined) {
    if (!meetsConstraints(locked.version, constraints)) {
      throw new Error(
        `the locked version ${
          versionString(locked.version)
        } does not match the configured constraint ${
          constraintsString(constraints)
        }; run "tfcache providers install --upgrade" (or terraform init -upgrade) first, or pass --ignore-lock-file`,
      );
    }
    out.line(`  - Selected v${versionString(locked.version)} to match dependency lock file`);
    return locked.version;
  }
  const available = await source.availableVersions(provider);
  const sorted = [...available.versions].sort(compareVersions);
  for (let i = sorted.length - 1; i >= 0; i--) {
    const v = sorted[i]!;
    if (meetsConstraints(v, constraints)) {
      out.line(
        `  - Selected v${versionString(v)} to meet constraints ${
          constraints.length === 0 ? "(any version)" : constraintsString(constraints)
        }`,
      );
      return v;
    }
  }
  throw new Error(
    `no available releases match the given constraints ${constraintsString(constraints)}`,
  );
}

function _asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Setup shared by the CLI tests that run against the fake upstream registry: the `alpha` and
 * `beta-gamma` providers most of them serve, the configuration requiring them, and small
 * checks on the working directory.
 *
 * @module
 */

import { join } from "node:path";
import type { FakeProviderConfig } from "../../support/fake_registry.ts";
import {
  localPlatform,
  type ProviderRequirement,
  terraformPath,
  writeConfig,
} from "../../support/terraform.ts";

/** This machine's platform, then two others (no repeats). */
export const PLATFORMS_WITH_LOCAL: readonly string[] = [
  localPlatform(),
  "darwin_arm64",
  "windows_amd64",
].filter((p, i, all) => all.indexOf(p) === i);

/** terraform's built-in provider, as a requirement. */
export const BUILTIN_TERRAFORM: ProviderRequirement = {
  name: "terraform",
  source: "terraform.io/builtin/terraform",
};

/** Options of {@linkcode alphaBetaProviders}. */
export interface AlphaBetaOptions {
  /** Platforms of `beta-gamma` (default: those of `alpha`). */
  betaPlatforms?: readonly string[];
  /** Size of each zip's executable. */
  sizeBytes?: number;
}

/**
 * `tfcache/alpha` 1.0.0 and 1.1.0, and `tfcache/beta-gamma` 0.3.0 advertised with relative
 * download URLs.
 *
 * @param platforms Platforms of `alpha` (and of `beta-gamma` unless given).
 * @param options Options.
 * @returns The two provider configs for `startFakeRegistry`.
 */
export function alphaBetaProviders(
  platforms: readonly string[],
  options: AlphaBetaOptions = {},
): FakeProviderConfig[] {
  const size = options.sizeBytes === undefined ? {} : { sizeBytes: options.sizeBytes };
  return [
    { namespace: "tfcache", type: "alpha", versions: ["1.0.0", "1.1.0"], platforms, ...size },
    {
      namespace: "tfcache",
      type: "beta-gamma",
      versions: ["0.3.0"],
      platforms: options.betaPlatforms ?? platforms,
      ...size,
      relativeDownloadUrl: true,
    },
  ];
}

/**
 * Writes a configuration requiring `alpha` (`~> 1.0`) and `beta` (`beta-gamma`) from `host`,
 * then `more`.
 *
 * @param dir The working directory.
 * @param host The registry host.
 * @param more Further requirements.
 */
export async function writeAlphaBetaConfig(
  dir: string,
  host: string,
  more: ProviderRequirement[] = [],
): Promise<void> {
  await writeConfig(dir, [
    { name: "alpha", source: `${host}/tfcache/alpha`, version: "~> 1.0" },
    { name: "beta", source: `${host}/tfcache/beta-gamma` },
    ...more,
  ]);
}

/**
 * Whether terraform is missing; prints a SKIP line for `name` when it is.
 *
 * @param name What is skipped.
 * @returns `true` when the caller should return.
 */
export function skipWithoutTerraform(name: string): boolean {
  if (terraformPath() !== undefined) return false;
  console.log(`SKIP: ${name}: terraform not on PATH`);
  return true;
}

/**
 * The lock file of a working directory.
 *
 * @param dir The working directory.
 * @returns Its `.terraform.lock.hcl`.
 */
export async function readLock(dir: string): Promise<string> {
  return await Deno.readTextFile(join(dir, ".terraform.lock.hcl"));
}

/**
 * Whether `path` exists (a dangling symlink counts); errors other than not-found are thrown.
 *
 * @param path The path.
 * @returns Whether it exists.
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

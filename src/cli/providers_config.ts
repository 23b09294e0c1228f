/**
 * What `tfcache providers install` and `tfcache providers mirror` read from a configuration
 * directory: the provider requirements of the whole configuration (root and local modules, plus
 * remote modules `init` already installed) with their merged constraints, and the dependency lock
 * file when there is one.
 *
 * @module
 */

import { join } from "node:path";
import { mergedConstraints, readConfigRequirements } from "../config/config_requirements.ts";
import { LockFile } from "../lock/lock_file.ts";
import {
  type Diagnostic,
  formatDiagnostic,
  hasErrors,
  LockFileError,
  readLockFile,
} from "../lock/lock_reader.ts";
import {
  compareProviderAddresses,
  isBuiltIn,
  parseProviderSource,
  type ProviderAddress,
} from "../registry/provider_address.ts";
import {
  parseVersionConstraints,
  type VersionConstraints,
} from "../registry/version_constraints.ts";

/** The file name of the dependency lock file. */
export const LOCK_FILE_NAME = ".terraform.lock.hcl";

/** A configuration that cannot be read (syntax, invalid values, missing module directory). */
export class ProvidersConfigError extends Error {
  /** The configuration directory. */
  readonly dir: string;

  /**
   * @param dir The configuration directory.
   * @param cause What went wrong.
   */
  constructor(dir: string, cause: unknown) {
    super(
      `cannot read the provider requirements of the configuration in "${dir}"; fix the configuration (terraform validate shows the same problems) and run the command again`,
      { cause },
    );
    this.name = "ProvidersConfigError";
    this.dir = dir;
  }
}

/** The providers a configuration requires. */
export interface ProviderRequirementList {
  /** Providers (sorted by address) with their merged constraints (empty: any version). */
  readonly requirements: ReadonlyArray<readonly [ProviderAddress, VersionConstraints]>;
  /** Registry hosts of the non-built-in providers, sorted. */
  readonly hosts: readonly string[];
}

/**
 * Reads the provider requirements of the configuration in `dir`.
 *
 * @param dir The root module directory.
 * @returns The requirements and their registry hosts.
 * @throws {ProvidersConfigError} when the configuration cannot be read.
 */
export async function readProviderRequirements(dir: string): Promise<ProviderRequirementList> {
  let found;
  try {
    found = await readConfigRequirements(dir);
  } catch (error) {
    throw new ProvidersConfigError(dir, error);
  }
  const requirements: [ProviderAddress, VersionConstraints][] = [];
  const hosts = new Set<string>();
  for (const [key, sources] of found.providers) {
    const address = parseProviderSource(key);
    requirements.push([address, parseVersionConstraints(mergedConstraints(sources))]);
    if (!isBuiltIn(address)) hosts.add(address.hostname);
  }
  requirements.sort((a, b) => compareProviderAddresses(a[0], b[0]));
  return { requirements, hosts: [...hosts].sort() };
}

/** The dependency lock file of a configuration. */
export interface DependencyLocks {
  /** Its path. */
  readonly path: string;
  /** Whether the file exists. */
  readonly exists: boolean;
  /** The locks (empty when the file does not exist). */
  readonly locks: LockFile;
  /** The tool its header names (`terraform`, `tofu`), to keep it when rewriting. */
  readonly headerTool: string | undefined;
  /** Warnings found while reading it. */
  readonly warnings: readonly Diagnostic[];
}

/**
 * Reads `dir/.terraform.lock.hcl`, if present.
 *
 * @param dir The root module directory.
 * @returns The locks (empty when there is no file).
 * @throws {LockFileError} when the file is invalid.
 */
export async function readDependencyLocks(dir: string): Promise<DependencyLocks> {
  const path = join(dir, LOCK_FILE_NAME);
  try {
    await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { path, exists: false, locks: new LockFile(), headerTool: undefined, warnings: [] };
    }
    throw error;
  }
  const read = await readLockFile(path);
  if (hasErrors(read.diagnostics)) throw new LockFileError(read.diagnostics);
  return {
    path,
    exists: true,
    locks: read.lockFile,
    headerTool: read.headerTool,
    warnings: read.diagnostics.filter((d) => d.severity === "warning"),
  };
}

/**
 * Renders lock-file warnings, one per line.
 *
 * @param warnings The warnings.
 * @returns Lines to print.
 */
export function formatLockWarnings(warnings: readonly Diagnostic[]): string[] {
  return warnings.map((w) => `Warning: ${formatDiagnostic(w)}`);
}

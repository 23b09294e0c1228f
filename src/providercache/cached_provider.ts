/**
 * One unpacked provider package in a cache directory.
 *
 * @module
 */

import { join } from "node:path";
import { matchesAnyHash, matchesHash, packageHashV1FromDir } from "../registry/hashes.ts";
import type { ProviderAddress } from "../registry/provider_address.ts";
import type { Version } from "../registry/version.ts";
import { ExecutableNotFoundError } from "./errors.ts";
import type { PackageLocalDir } from "./package_meta.ts";

/** A provider package already unpacked in a cache directory. */
export class CachedProvider {
  /** The provider. */
  readonly provider: ProviderAddress;
  /** The version. */
  readonly version: Version;
  /** The package directory, with forward slashes. */
  readonly packageDir: string;

  /**
   * @param provider The provider.
   * @param version The version.
   * @param packageDir The unpacked package directory.
   */
  constructor(provider: ProviderAddress, version: Version, packageDir: string) {
    this.provider = provider;
    this.version = version;
    this.packageDir = _toSlash(packageDir);
  }

  /**
   * @returns The package directory as a location.
   */
  packageLocation(): PackageLocalDir {
    return { kind: "dir", path: this.packageDir };
  }

  /**
   * The package's hash with the current default scheme (`h1:`).
   *
   * @returns `h1:<base64>`.
   */
  hash(): Promise<string> {
    return this.hashV1();
  }

  /**
   * The dirhash `h1:` of the package directory; equal to the `h1:` of the zip it came from.
   *
   * @returns `h1:<base64>`.
   */
  hashV1(): Promise<string> {
    return packageHashV1FromDir(this.packageDir);
  }

  /**
   * Strict single-hash check (an unsupported scheme, or `zh:`, is an error).
   *
   * @param want The hash.
   * @returns Whether the package has it.
   */
  matchesHash(want: string): Promise<boolean> {
    return matchesHash(this.packageDir, want);
  }

  /**
   * Lenient check: unknown schemes and `zh:` never match; an empty list never matches.
   *
   * @param allowed Candidate hashes.
   * @returns Whether any matches.
   */
  matchesAnyHash(allowed: readonly string[]): Promise<boolean> {
    return matchesAnyHash(this.packageDir, allowed);
  }

  /**
   * Finds the plugin executable with terraform's heuristic: the first non-directory entry (in
   * name order) named `terraform-provider-<type>` optionally followed by `_…` or `.…`
   * (`terraform-provider-null`, `terraform-provider-null.exe`,
   * `terraform-provider-aws_v5.1.0_x5`). The execute bit is not checked.
   *
   * @returns The executable's path, with forward slashes.
   * @throws {ExecutableNotFoundError} when the directory cannot be read or has no such file.
   */
  async executableFile(): Promise<string> {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(this.packageDir));
    } catch (cause) {
      throw new ExecutableNotFoundError(
        this.packageDir,
        `could not read package directory: ${(cause as Error).message}`,
        { cause },
      );
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const prefix = `terraform-provider-${this.provider.type}`;
    for (const entry of entries) {
      if (!entry.name.startsWith(prefix)) continue;
      const rest = entry.name.slice(prefix.length);
      if (rest !== "" && !rest.startsWith("_") && !rest.startsWith(".")) continue;
      const full = join(this.packageDir, entry.name);
      let isDir = entry.isDirectory;
      if (entry.isSymlink) {
        try {
          isDir = (await Deno.stat(full)).isDirectory;
        } catch {
          isDir = false;
        }
      }
      if (isDir) continue;
      return _toSlash(full);
    }
    throw new ExecutableNotFoundError(
      this.packageDir,
      `could not find executable file starting with ${prefix}`,
    );
  }
}

function _toSlash(p: string): string {
  return Deno.build.os === "windows" ? p.replaceAll("\\", "/") : p;
}

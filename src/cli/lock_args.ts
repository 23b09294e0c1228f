/**
 * Parses `tfcache lock [DIR] [--platform OS_ARCH]... [--upgrade] [--provider ADDR]...
 * [--cache-dir DIR] [--parallel N]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { isValidPlatformPart } from "../mirrors/provider_paths.ts";
import { parsePlatform, type Platform } from "../registry/platform.ts";
import { UsageError } from "./cli_error.ts";

/** Parsed `tfcache lock` options. */
export interface LockArgs {
  /** The root module directory (default `.`). */
  dir: string;
  /** `--platform` values; empty means "the current platform". */
  platforms: Platform[];
  /** `--upgrade`. */
  upgrade: boolean;
  /** `--provider` values as given. */
  providers: string[];
  /** `--cache-dir`. */
  cacheDir: string | undefined;
  /** `--parallel`: most packages fetched at once. */
  parallelism: number;
}

/**
 * Parses one `os_arch` platform the way terraform's `-platform` does, and also insists on the
 * lower-case letters and digits registries use.
 *
 * @param value e.g. `linux_amd64`.
 * @param command The sub-command for the usage hint.
 * @returns The platform.
 * @throws {UsageError} when it is not `os_arch`.
 */
export function parsePlatformArg(value: string, command: string): Platform {
  let p: Platform;
  try {
    p = parsePlatform(value);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), command);
  }
  if (!isValidPlatformPart(p.os) || !isValidPlatformPart(p.arch)) {
    throw new UsageError(
      `Invalid platform "${value}": expected OS_ARCH in lower case, e.g. linux_amd64`,
      command,
    );
  }
  return p;
}

/**
 * Parses the arguments after `tfcache lock`.
 *
 * @param args The arguments.
 * @returns The options.
 * @throws {UsageError} on unknown options, more than one directory or a bad platform.
 */
export function parseLockArgs(args: string[]): LockArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        platform: { type: "string", multiple: true },
        upgrade: { type: "boolean" },
        provider: { type: "string", multiple: true },
        "cache-dir": { type: "string" },
        parallel: { type: "string" },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), "lock");
  }
  if (parsed.positionals.length > 1) {
    throw new UsageError(
      `expected at most one directory, got ${parsed.positionals.length}: ${
        parsed.positionals.join(" ")
      }`,
      "lock",
    );
  }
  const parallelText = parsed.values.parallel ?? "4";
  const parallelism = Number(parallelText);
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > 64) {
    throw new UsageError(
      `--parallel must be an integer from 1 to 64, got "${parallelText}"`,
      "lock",
    );
  }
  const seen = new Set<string>();
  const platforms: Platform[] = [];
  for (const value of parsed.values.platform ?? []) {
    const p = parsePlatformArg(value, "lock");
    if (seen.has(value)) continue;
    seen.add(value);
    platforms.push(p);
  }
  return {
    dir: parsed.positionals[0] ?? ".",
    platforms,
    upgrade: parsed.values.upgrade ?? false,
    providers: parsed.values.provider ?? [],
    cacheDir: parsed.values["cache-dir"],
    parallelism,
  };
}

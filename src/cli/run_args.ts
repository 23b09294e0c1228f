/**
 * Parses `tfcache run [options] -- COMMAND [ARGS...]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "./cli_error.ts";

/** Parsed `tfcache run` options. */
export interface RunArgs {
  /** `--cache-dir`. */
  cacheDir: string | undefined;
  /** `--report-json`: where to write the savings report as JSON. */
  reportJson: string | undefined;
  /** `--lock-platform` (repeatable): platforms to complete in the lock file afterwards. */
  lockPlatforms: string[];
  /** `--quiet`: no savings line on stderr. */
  quiet: boolean;
  /** `false` with `--no-preinstall`: never pre-install providers before `terraform init`. */
  preinstall: boolean;
  /** The command to run and its arguments. */
  command: string[];
}

/**
 * Splits tfcache's options from the command. The command starts after `--`, or at the first
 * argument that is not an option of `tfcache run`.
 *
 * @throws {UsageError} On unknown options or a missing command.
 */
export function parseRunArgs(args: string[]): RunArgs {
  let split = args.indexOf("--");
  let own: string[];
  let command: string[];
  if (split !== -1) {
    own = args.slice(0, split);
    command = args.slice(split + 1);
  } else {
    split = firstCommandIndex(args);
    own = args.slice(0, split);
    command = args.slice(split);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: own,
      strict: true,
      allowPositionals: false,
      options: {
        "cache-dir": { type: "string" },
        "report-json": { type: "string" },
        "lock-platform": { type: "string", multiple: true },
        quiet: { type: "boolean", short: "q" },
        "no-preinstall": { type: "boolean" },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), "run");
  }
  if (command.length === 0) {
    throw new UsageError("missing the command to run, e.g. tfcache run -- terraform init", "run");
  }
  return {
    cacheDir: parsed.values["cache-dir"],
    reportJson: parsed.values["report-json"],
    lockPlatforms: parsed.values["lock-platform"] ?? [],
    quiet: parsed.values.quiet ?? false,
    preinstall: !(parsed.values["no-preinstall"] ?? false),
    command,
  };
}

const VALUE_OPTIONS = new Set(["--cache-dir", "--report-json", "--lock-platform"]);

function firstCommandIndex(args: string[]): number {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("-")) return i;
    if (VALUE_OPTIONS.has(arg)) i++;
  }
  return args.length;
}

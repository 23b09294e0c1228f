/**
 * Dispatches `tfcache <command> [args]` to the command files in this folder and turns errors into
 * exit codes (the only place that does).
 *
 * @module
 */

import type { Command } from "./command.ts";
import { UsageError } from "./cli_error.ts";
import { cacheCommand } from "./cache.ts";
import { describeError } from "./describe_error.ts";
import { lockCommand } from "./lock.ts";
import { providersCommand } from "./providers.ts";
import { runCommand } from "./run.ts";
import { serveCommand } from "./serve.ts";
import { VERSION } from "./version.ts";

/** Every sub-command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  runCommand,
  serveCommand,
  lockCommand,
  providersCommand,
  cacheCommand,
];

/** The top-level help text. */
export function topLevelHelp(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(8, ...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `tfcache ${VERSION} — a cache that makes Terraform and OpenTofu stop re-downloading
providers and modules.

Usage:
  tfcache <command> [options]
  tfcache <command> --help     Help for one command
  tfcache --version            Print the version

Commands:
${lines.join("\n")}

Cache directory: --cache-dir, else $TFCACHE_CACHE_DIR, else $XDG_CACHE_HOME/tfcache
(or ~/.cache/tfcache).
`;
}

/**
 * Runs the CLI with `args` (without the program name) and returns the exit code.
 *
 * @param args Command-line arguments.
 * @param commands The available commands (injectable for tests).
 */
export async function main(
  args: string[],
  commands: readonly Command[] = COMMANDS,
): Promise<number> {
  const [first, ...rest] = args;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    if (first === "help" && rest[0] !== undefined) return main([rest[0], "--help"], commands);
    console.log(topLevelHelp(commands));
    return first === undefined ? 2 : 0;
  }
  if (first === "--version" || first === "-V" || first === "version") {
    console.log(`tfcache ${VERSION}`);
    return 0;
  }
  const command = commands.find((c) => c.name === first);
  if (command === undefined) {
    console.error(`error: unknown command "${first}"; run "tfcache --help" for the list`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    const dashDash = rest.indexOf("--");
    const helpAt = Math.max(rest.indexOf("--help"), rest.indexOf("-h"));
    if (dashDash === -1 || helpAt < dashDash) {
      console.log(command.help);
      return 0;
    }
  }
  try {
    return await command.run(rest);
  } catch (error) {
    return reportError(error, command.name);
  }
}

/** Prints an error (with its cause chain) and returns the exit code for it. */
export function reportError(error: unknown, commandName?: string): number {
  if (error instanceof UsageError) {
    const hint = error.command ?? commandName;
    console.error(`error: ${error.message}`);
    if (hint !== undefined) console.error(`Run "tfcache ${hint} --help" for usage.`);
    return 2;
  }
  console.error(`error: ${describeError(error)}`);
  return 1;
}

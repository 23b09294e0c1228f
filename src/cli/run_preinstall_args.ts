/**
 * Decides from a `tfcache run` command line whether the command is a `terraform init` (or
 * `tofu init`) whose providers tfcache may install beforehand: the tool, its working directory
 * (`-chdir=DIR`), and whether an option changes which providers `init` installs or where from.
 *
 * Pure functions: no I/O, so the whole decision table is unit-tested.
 *
 * @module
 */

import type { EnvLookup } from "./cache_dir.ts";

/** The wrapped tool. */
export type InitTool = "terraform" | "tofu";

/** What {@linkcode detectInit} found. */
export type InitDetection =
  | {
    /** An `init` tfcache may pre-install providers for. */
    readonly kind: "init";
    /** The tool. */
    readonly tool: InitTool;
    /** The `-chdir=DIR` value (the last one, as terraform uses), when given. */
    readonly chdir: string | undefined;
  }
  | {
    /** Not an `init` of terraform or tofu (or only its help). */
    readonly kind: "not-init";
    /** Why, for the savings report. */
    readonly reason: string;
  }
  | {
    /** An `init` with an option that makes pre-installing wrong or pointless. */
    readonly kind: "unsafe";
    /** The option and why, for the savings report. */
    readonly reason: string;
  };

const TOOLS: ReadonlyMap<string, InitTool> = new Map([
  ["terraform", "terraform"],
  ["terraform.exe", "terraform"],
  ["tofu", "tofu"],
  ["tofu.exe", "tofu"],
]);

/** `init` options that take a value, so that `-flag VALUE` skips VALUE. */
const VALUE_OPTIONS: ReadonlySet<string> = new Set([
  "backend-config",
  "from-module",
  "lock-timeout",
  "lockfile",
  "plugin-dir",
  "test-directory",
  "var",
  "var-file",
]);

/**
 * `init` options under which pre-installing is unsafe or pointless, with the reason. `-upgrade`
 * is handled separately (`-upgrade=false` is harmless).
 */
const UNSAFE_OPTIONS: ReadonlyMap<string, string> = new Map([
  ["plugin-dir", "-plugin-dir makes init use only the given directories and install nothing"],
  ["get-plugins", "-get-plugins changes whether init installs providers at all"],
  ["from-module", "-from-module copies a configuration into the directory first"],
]);

/**
 * The tool a program path names: `terraform`, `tofu` (also `.exe`, any directory, any case).
 *
 * @param program The command's first word.
 * @returns The tool, or `undefined` for anything else.
 */
export function toolOf(program: string): InitTool | undefined {
  const base = program.slice(Math.max(program.lastIndexOf("/"), program.lastIndexOf("\\")) + 1);
  return TOOLS.get(base.toLowerCase());
}

/**
 * Classifies a wrapped command line: `terraform|tofu [-chdir=DIR] init [options]`, with the
 * options of `TF_CLI_ARGS` and `TF_CLI_ARGS_init` (which terraform adds) taken into account.
 *
 * Pre-installing is refused for `-upgrade` (new versions get selected, the lock file's are not
 * the ones to install), `-plugin-dir` (init installs nothing), `-get-plugins`, `-from-module`
 * (the configuration is not there yet), positional arguments (init rejects them) and help.
 *
 * @param command The command and its arguments.
 * @param env The environment (for `TF_CLI_ARGS`, `TF_CLI_ARGS_init`).
 * @returns The classification.
 * @example
 * ```ts
 * detectInit(["terraform", "-chdir=infra", "init", "-input=false"], () => undefined);
 * // { kind: "init", tool: "terraform", chdir: "infra" }
 * ```
 */
export function detectInit(command: readonly string[], env: EnvLookup): InitDetection {
  const program = command[0];
  const tool = program === undefined ? undefined : toolOf(program);
  if (tool === undefined) {
    return { kind: "not-init", reason: `${program ?? "(none)"} is not terraform or tofu` };
  }
  let chdir: string | undefined;
  let i = 1;
  for (; i < command.length; i++) {
    const arg = command[i]!;
    if (!arg.startsWith("-")) break;
    if (arg.startsWith("-chdir=")) {
      chdir = arg.slice("-chdir=".length);
      continue;
    }
    // -chdir without "=" is an error in terraform; -help, -version and the rest are not init.
    return { kind: "not-init", reason: `global option ${arg} before the sub-command` };
  }
  if (command[i] !== "init") {
    return { kind: "not-init", reason: `sub-command is ${command[i] ?? "(none)"}, not init` };
  }
  const options = [
    ...command.slice(i + 1),
    ...splitShellWords(env("TF_CLI_ARGS") ?? ""),
    ...splitShellWords(env("TF_CLI_ARGS_init") ?? ""),
  ];
  const problem = unsafeInitOption(options);
  if (problem !== undefined) return problem;
  return { kind: "init", tool, chdir };
}

function unsafeInitOption(args: readonly string[]): InitDetection | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      if (i + 1 < args.length) {
        return { kind: "unsafe", reason: `init takes no arguments, got "${args[i + 1]}"` };
      }
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      return { kind: "unsafe", reason: `init takes no arguments, got "${arg}"` };
    }
    const body = arg.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq === -1 ? body : body.slice(0, eq);
    const value = eq === -1 ? undefined : body.slice(eq + 1);
    if (name === "help" || name === "h") return { kind: "not-init", reason: "init -help" };
    if (name === "upgrade") {
      const on = value === undefined ? true : goBool(value);
      if (on !== false) {
        return {
          kind: "unsafe",
          reason: "-upgrade selects new versions instead of the lock file's",
        };
      }
      continue;
    }
    const unsafe = UNSAFE_OPTIONS.get(name);
    if (unsafe !== undefined) return { kind: "unsafe", reason: unsafe };
    if (value === undefined && VALUE_OPTIONS.has(name)) i++;
  }
  return undefined;
}

/** Go's `strconv.ParseBool`, as the flag package parses `-flag=VALUE`. */
function goBool(value: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  return undefined;
}

/**
 * Splits a `TF_CLI_ARGS`-style string into words as a POSIX shell would: whitespace separates,
 * single quotes are literal, double quotes allow backslash escapes, a backslash escapes the next
 * character.
 *
 * @param text The string.
 * @returns The words.
 * @example
 * ```ts
 * splitShellWords(`-upgrade -backend-config="key=a b"`); // ["-upgrade", "-backend-config=key=a b"]
 * ```
 */
export function splitShellWords(text: string): string[] {
  const words: string[] = [];
  let current = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else current += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === "\\" && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) {
        current += text[++i];
      } else current += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = "";
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/**
 * Runs the tfcache CLI (`main.ts`) as a real child process, as users run it.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** What a CLI run printed and returned. */
export interface CliResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Absolute path of the CLI entry point. */
export const MAIN_TS: string = fileURLToPath(new URL("../../../main.ts", import.meta.url));

/**
 * Runs `deno run --allow-all main.ts ...args` with exactly `env` (plus what Deno needs to find
 * its caches) as the environment.
 *
 * @param args Arguments after `main.ts`.
 * @param options Working directory and environment.
 * @returns The exit code and the captured output.
 */
export async function runCli(
  args: readonly string[],
  options: { cwd?: string; env: Record<string, string> },
): Promise<CliResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", MAIN_TS, ...args],
    env: { ...denoEnv(), ...options.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Environment entries a child Deno needs to find its module and npm caches. */
export function denoEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  const denoDir = Deno.env.get("DENO_DIR") ??
    (Deno.env.get("XDG_CACHE_HOME") !== undefined
      ? `${Deno.env.get("XDG_CACHE_HOME")}/deno`
      : home !== undefined
      ? `${home}/.cache/deno`
      : undefined);
  if (denoDir !== undefined) env.DENO_DIR = denoDir;
  for (const name of ["NPM_CONFIG_REGISTRY", "LOCALAPPDATA", "SystemRoot"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

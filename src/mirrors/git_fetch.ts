/**
 * Fetches one commit of a git module source into a working tree with the `git` CLI, shallow
 * where the server allows it, with the user's git configuration, credential helpers and
 * `insteadOf` rules in effect (the environment is inherited, never cleared).
 *
 * @module
 */

import type { GitSourceSpec } from "./module_source_address.ts";
import { ModuleFetchError, redactSource } from "./module_source_errors.ts";

/** Options for {@linkcode runGit} and {@linkcode fetchGit}. */
export interface GitOptions {
  /** The git executable; `git` on PATH by default. */
  git?: string;
  /** Aborts the command (the child is killed). */
  signal?: AbortSignal;
  /** Extra environment entries (added to the inherited environment). */
  env?: Record<string, string>;
}

/** The outcome of one git command. */
export interface GitResult {
  /** Exit code. */
  code: number;
  /** Standard output, decoded. */
  stdout: string;
  /** Standard error, decoded. */
  stderr: string;
}

/** A git command exited non-zero. */
export class GitCommandError extends Error {
  /** Exit code. */
  readonly code: number;
  /** Standard error (bounded, credentials redacted). */
  readonly stderr: string;

  /**
   * @param args The git arguments (redacted in the message).
   * @param result The command's outcome.
   */
  constructor(args: string[], result: GitResult) {
    const stderr = redactSource(result.stderr.trim().slice(-2000));
    super(`git ${redactSource(args.join(" "))} exited with ${result.code}: ${stderr}`);
    this.name = "GitCommandError";
    this.code = result.code;
    this.stderr = stderr;
  }
}

const decoder = new TextDecoder();

/**
 * Runs `git` with the inherited environment plus `GIT_TERMINAL_PROMPT=0` (a server must never
 * wait on a password prompt).
 *
 * @param args Arguments after `git`.
 * @param options Executable, cancellation, extra environment; `cwd` runs it in a directory.
 * @returns The outcome (does not throw on non-zero exit).
 */
export async function runGit(
  args: string[],
  options: GitOptions & { cwd?: string } = {},
): Promise<GitResult> {
  const command = new Deno.Command(options.git ?? "git", {
    args,
    env: { GIT_TERMINAL_PROMPT: "0", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const out = await command.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Like {@linkcode runGit} but throws {@linkcode GitCommandError} on a non-zero exit. */
export async function git(
  args: string[],
  options: GitOptions & { cwd?: string } = {},
): Promise<string> {
  const result = await runGit(args, options);
  if (result.code !== 0) throw new GitCommandError(args, result);
  return result.stdout;
}

const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;

/**
 * Checks out the commit a git source points at into `dest` (an existing empty directory), with
 * submodules. The tree is what go-getter would leave, `.git` included; callers drop `.git` when
 * packing. Strategy: `git fetch --depth 1 origin <ref>` (a branch, tag, full SHA, or `HEAD` when no
 * ref is given); when the server refuses a shallow or by-SHA fetch, or the ref is an abbreviated
 * SHA, a full fetch followed by `git checkout <ref>`.
 *
 * @param spec The git source.
 * @param dest Existing empty directory.
 * @param options Executable, cancellation, environment.
 * @returns The checked-out commit SHA.
 * @throws {ModuleFetchError} with git's own message when the remote or ref cannot be fetched.
 */
export async function fetchGit(
  spec: GitSourceSpec,
  dest: string,
  options: GitOptions = {},
): Promise<string> {
  const run = (args: string[]) => git(args, { ...options, cwd: dest });
  const shown = spec.ref === undefined ? spec.remote : `${spec.remote}?ref=${spec.ref}`;
  try {
    await run(["init", "--quiet"]);
    await run(["remote", "add", "origin", spec.remote]);
    const ref = spec.ref ?? "HEAD";
    let shallowOk = false;
    let shallowError: unknown;
    const abbreviated = /^[0-9a-f]{4,39}$/i.test(ref) && !FULL_SHA.test(ref);
    if (!abbreviated) {
      try {
        await run(["fetch", "--quiet", "--no-tags", "--depth", "1", "origin", ref]);
        await run(["-c", "advice.detachedHead=false", "checkout", "--quiet", "FETCH_HEAD"]);
        shallowOk = true;
      } catch (e) {
        shallowError = e;
      }
    }
    if (!shallowOk) {
      // Full history: servers that refuse shallow/by-SHA fetches, or abbreviated commit ids.
      try {
        await run([
          "fetch",
          "--quiet",
          "--tags",
          "origin",
          "+refs/heads/*:refs/remotes/origin/*",
        ]);
      } catch (e) {
        throw shallowError ?? e;
      }
      const target = spec.ref === undefined ? "refs/remotes/origin/HEAD" : spec.ref;
      if (spec.ref === undefined) {
        await run(["remote", "set-head", "origin", "--auto"]);
      }
      try {
        await run(["-c", "advice.detachedHead=false", "checkout", "--quiet", target]);
      } catch (e) {
        const resolved = await runGit(["rev-parse", "--verify", "--quiet", `origin/${target}`], {
          ...options,
          cwd: dest,
        });
        if (resolved.code !== 0) throw shallowError ?? e;
        await run(["-c", "advice.detachedHead=false", "checkout", "--quiet", `origin/${target}`]);
      }
    }
    const hasSubmodules = await Deno.stat(`${dest}/.gitmodules`).then(() => true, () => false);
    if (hasSubmodules) {
      await run(["submodule", "update", "--init", "--recursive", "--quiet"]);
    }
    return (await run(["rev-parse", "HEAD"])).trim();
  } catch (e) {
    if (e instanceof GitCommandError) {
      throw new ModuleFetchError(`git::${shown}`, e.stderr || e.message, { cause: e });
    }
    throw e;
  }
}

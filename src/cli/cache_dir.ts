/**
 * Where the cache lives: `--cache-dir`, else `TFCACHE_CACHE_DIR`, else `$XDG_CACHE_HOME/tfcache`,
 * else `~/.cache/tfcache` (`%LOCALAPPDATA%\\tfcache` on Windows).
 *
 * @module
 */

import { join, resolve } from "node:path";

/** Environment lookups the resolver needs (injectable for tests). */
export type EnvLookup = (name: string) => string | undefined;

/**
 * Resolves the cache directory to an absolute path.
 *
 * @param flag The `--cache-dir` value, if given.
 * @param env Environment lookup.
 * @param os The operating system (defaults to this one).
 * @returns An absolute directory path (not created).
 * @throws {TypeError} When no home directory can be found to derive a default.
 */
export function resolveCacheDir(
  flag: string | undefined,
  env: EnvLookup = (name) => Deno.env.get(name),
  os: typeof Deno.build.os = Deno.build.os,
): string {
  if (flag !== undefined && flag !== "") return resolve(flag);
  const fromEnv = env("TFCACHE_CACHE_DIR");
  if (fromEnv !== undefined && fromEnv !== "") return resolve(fromEnv);
  const xdg = env("XDG_CACHE_HOME");
  if (xdg !== undefined && xdg !== "") return resolve(xdg, "tfcache");
  if (os === "windows") {
    const local = env("LOCALAPPDATA");
    if (local !== undefined && local !== "") return join(local, "tfcache");
  }
  const home = env("HOME") ?? env("USERPROFILE");
  if (home === undefined || home === "") {
    throw new TypeError(
      "Cannot choose a cache directory: HOME is not set; pass --cache-dir or set TFCACHE_CACHE_DIR",
    );
  }
  return join(home, ".cache", "tfcache");
}

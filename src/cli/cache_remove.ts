/**
 * Removing objects and git mirror clones from a cache that other processes may be filling at the
 * same moment. Every removal holds the object's store lock, the lock a fill holds from fetch to
 * commit, so a fill in progress is never cut short: the removal waits for it, then sees the fresh
 * object and (when asked to) leaves it alone.
 *
 * @module
 */

import { join } from "node:path";
import { DEFAULT_ENCODE_COLONS, toDiskPath } from "../proxy/_key_path.ts";
import type { ObjectInfo } from "../proxy/store.ts";
import type { CacheContext } from "./cache_inventory.ts";
import { encodesNames, treeSize } from "./cache_inventory.ts";

/** Outcome of one locked removal. */
export type RemoveOutcome =
  | { removed: true; info: ObjectInfo }
  | { removed: false; reason: "absent" | "changed"; info: ObjectInfo | undefined };

/**
 * Deletes the object for `key` (object and sidecar; the lock file stays) under its store lock.
 *
 * @param context Cache root and store.
 * @param key A validated cache key.
 * @param expected When given, the object is deleted only if it still has these bytes and this
 * fetch time (a fill that refreshed it meanwhile wins).
 * @param signal Aborts the wait for the lock.
 * @returns Whether it was removed, and the metadata it had.
 */
export async function removeObjectLocked(
  context: CacheContext,
  key: string,
  expected?: ObjectInfo,
  signal?: AbortSignal,
): Promise<RemoveOutcome> {
  await using _held = await context.store.lock(key, signal);
  const current = await context.store.stat(key);
  if (current === undefined) return { removed: false, reason: "absent", info: undefined };
  if (
    expected !== undefined &&
    (current.sha256 !== expected.sha256 ||
      current.fetchedAt.getTime() !== expected.fetchedAt.getTime())
  ) {
    return { removed: false, reason: "changed", info: current };
  }
  await context.store.delete(key);
  return { removed: true, info: current };
}

/**
 * The bare clone directory that belongs to a git mirror state key.
 *
 * @param root The cache root.
 * @param key A cache key such as `git/github.com/org/repo.json`.
 * @param encodeColons Whether clone directory names are encoded as the store's names are
 * (default: on Windows only), as `GitMirror.repoDir` names them.
 * @returns `<root>/git-mirrors/github.com/org/repo.git` (`git-mirrors-http/` for `git-http/`
 * keys), or `undefined` when `key` is not a git mirror state key.
 */
export function cloneDirForStateKey(
  root: string,
  key: string,
  encodeColons: boolean = DEFAULT_ENCODE_COLONS,
): string | undefined {
  const match = /^(git|git-http)\/(.+)\.json$/.exec(key);
  if (match === null || match[2] === undefined || !match[2].includes("/")) return undefined;
  const top = match[1] === "git-http" ? "git-mirrors-http" : "git-mirrors";
  return join(root, top, ...toDiskPath(`${match[2]}.git`, encodeColons).split("/"));
}

/**
 * Removes a directory tree so that it disappears at once: renamed to a `.tmp-` sibling first
 * (a crash leaves only a leftover that `prune` sweeps), then deleted.
 *
 * @param path The directory.
 * @returns The bytes it held, or `undefined` when it did not exist.
 */
export async function removeTree(path: string): Promise<number | undefined> {
  const doomed = `${path}.tmp-prune-${crypto.randomUUID()}`;
  try {
    await Deno.rename(path, doomed);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const { bytes } = await treeSize(doomed);
  await Deno.remove(doomed, { recursive: true });
  return bytes;
}

/**
 * Removes a git mirror clone and its state object under the state object's store lock (the lock
 * a refresh of that clone holds), so a clone is never removed under a running `git fetch`.
 *
 * @param context Cache root and store.
 * @param stateKey The clone's state key, e.g. `git/github.com/org/repo.json`.
 * @param stillStale Re-checked under the lock; the clone is kept when it returns `false`.
 * @returns The bytes freed, or `undefined` when nothing was removed.
 */
export async function removeGitCloneLocked(
  context: CacheContext,
  stateKey: string,
  stillStale: () => Promise<boolean> = () => Promise.resolve(true),
): Promise<number | undefined> {
  const dir = cloneDirForStateKey(context.root, stateKey, encodesNames(context));
  if (dir === undefined) return undefined;
  await using _held = await context.store.lock(stateKey);
  if (!(await stillStale())) return undefined;
  const state = await context.store.stat(stateKey);
  await context.store.delete(stateKey);
  const bytes = await removeTree(dir);
  if (bytes === undefined && state === undefined) return undefined;
  return (bytes ?? 0) + (state?.size ?? 0);
}

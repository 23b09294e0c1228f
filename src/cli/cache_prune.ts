/**
 * `tfcache cache prune`: removes metadata (and, when asked, artifacts and git mirror clones)
 * fetched longer ago than a duration, evicts the least recently fetched artifacts down to a size
 * budget, and sweeps staging leftovers of crashed writers.
 *
 * Every removal holds the object's store lock and re-checks the object under it (see
 * `cache_remove.ts`): an object a concurrent fill refreshed meanwhile is kept.
 *
 * @module
 */

import type { ObjectInfo } from "../proxy/store.ts";
import { isValidKey } from "../proxy/cache_key.ts";
import {
  type CacheContext,
  encodesNames,
  gitCloneLastFetched,
  listGitClones,
  listObjects,
  treeSize,
} from "./cache_inventory.ts";
import { removeGitCloneLocked, removeObjectLocked, removeTree } from "./cache_remove.ts";

/** Default `--older-than`: seven days. */
export const DEFAULT_PRUNE_AGE_MS = 7 * 24 * 60 * 60 * 1000;

/** Temporary git clone directories older than this are leftovers of interrupted clones. */
export const GIT_TEMP_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** Options for {@linkcode pruneCache}. */
export interface PruneOptions {
  /** Objects fetched longer ago than this are removed (metadata always, artifacts when asked). */
  olderThanMs: number;
  /** Also remove old artifacts and old git mirror clones. */
  includeArtifacts: boolean;
  /** Evict the least recently fetched artifacts until the objects total at most this many bytes. */
  maxSizeBytes?: number | undefined;
  /** Only report what would be removed. */
  dryRun: boolean;
  /** The clock (default `Date.now`). */
  now?: () => number;
  /** Called for each removal as it happens (or would happen, in a dry run). */
  onRemoved?: (entry: PrunedEntry) => void;
}

/** Why something was pruned. */
export type PruneReason = "older-than" | "max-size" | "staging-leftover";

/** One thing `prune` removed (or would remove). */
export interface PrunedEntry {
  /** The object's key, or the clone directory relative to the cache root. */
  key: string;
  /** The object's kind, or `git-clone`. */
  kind: ObjectInfo["kind"] | "git-clone";
  /** Bytes freed. */
  size: number;
  /** When it was fetched. */
  fetchedAt: Date;
  /** Why it was removed. */
  reason: PruneReason;
}

/** What {@linkcode pruneCache} did. */
export interface PruneResult {
  /** Whether this was a dry run (nothing removed). */
  dryRun: boolean;
  /** What was removed (or would be), in order. */
  removed: PrunedEntry[];
  /** Candidates left alone because a fill refreshed or removed them meanwhile. */
  skipped: { key: string; reason: "absent" | "changed" }[];
  /** Bytes freed (or that would be). */
  bytesFreed: number;
  /** Staging files of crashed writers removed by the store's sweep (0 in a dry run). */
  sweptStaging: number;
  /** Bytes of the store objects left. */
  remainingBytes: number;
  /** With `maxSizeBytes`: whether the objects left fit the budget (metadata is never evicted). */
  fitsMaxSize: boolean | undefined;
}

/**
 * Prunes the cache (see the module documentation).
 *
 * @param context Cache root and store.
 * @param options Age, artifact and size rules, dry run, clock and progress callback.
 * @returns What was removed and freed.
 */
export async function pruneCache(
  context: CacheContext,
  options: PruneOptions,
): Promise<PruneResult> {
  const now = (options.now ?? Date.now)();
  const cutoff = now - options.olderThanMs;
  const result: PruneResult = {
    dryRun: options.dryRun,
    removed: [],
    skipped: [],
    bytesFreed: 0,
    sweptStaging: 0,
    remainingBytes: 0,
    fitsMaxSize: undefined,
  };
  const record = (entry: PrunedEntry): void => {
    result.removed.push(entry);
    result.bytesFreed += entry.size;
    options.onRemoved?.(entry);
  };
  if (!options.dryRun) result.sweptStaging = await context.store.sweep();

  const objects = await Array.fromAsync(listObjects(context));
  const gone = new Set<string>();
  const remove = async (info: ObjectInfo, reason: PruneReason): Promise<boolean> => {
    if (!options.dryRun) {
      const outcome = await removeObjectLocked(context, info.key, info);
      if (!outcome.removed) {
        result.skipped.push({ key: info.key, reason: outcome.reason });
        return false;
      }
    }
    gone.add(info.key);
    record({ key: info.key, kind: info.kind, size: info.size, fetchedAt: info.fetchedAt, reason });
    return true;
  };

  for (const info of objects) {
    const old = info.fetchedAt.getTime() < cutoff;
    if (old && (info.kind !== "artifact" || options.includeArtifacts)) {
      await remove(info, "older-than");
    }
  }

  let remaining = objects.reduce((sum, o) => gone.has(o.key) ? sum : sum + o.size, 0);
  if (options.maxSizeBytes !== undefined) {
    const evictable = objects
      .filter((o) => o.kind === "artifact" && !gone.has(o.key))
      .sort((a, b) => a.fetchedAt.getTime() - b.fetchedAt.getTime() || (a.key < b.key ? -1 : 1));
    for (const info of evictable) {
      if (remaining <= options.maxSizeBytes) break;
      if (await remove(info, "max-size")) remaining -= info.size;
    }
    result.fitsMaxSize = remaining <= options.maxSizeBytes;
  }
  result.remainingBytes = remaining;

  for await (const clone of listGitClones(context.root, encodesNames(context))) {
    const fetched = clone.lastFetched.getTime();
    if (clone.temporary) {
      if (options.dryRun || now - fetched < GIT_TEMP_MAX_AGE_MS) continue;
      const size = await removeTree(clone.path);
      if (size !== undefined) {
        record({
          key: clone.relativePath,
          kind: "git-clone",
          size,
          fetchedAt: clone.lastFetched,
          reason: "staging-leftover",
        });
      }
      continue;
    }
    if (!options.includeArtifacts || fetched >= cutoff || !isValidKey(clone.stateKey)) continue;
    let size: number | undefined;
    if (options.dryRun) {
      const state = gone.has(clone.stateKey) ? undefined : await context.store.stat(clone.stateKey);
      size = (await treeSize(clone.path)).bytes + (state?.size ?? 0);
    } else {
      size = await removeGitCloneLocked(
        context,
        clone.stateKey,
        async () => (await gitCloneLastFetched(clone.path)).getTime() < cutoff,
      );
      if (size === undefined) {
        result.skipped.push({ key: clone.relativePath, reason: "changed" });
        continue;
      }
    }
    record({
      key: clone.relativePath,
      kind: "git-clone",
      size,
      fetchedAt: clone.lastFetched,
      reason: "older-than",
    });
  }
  return result;
}

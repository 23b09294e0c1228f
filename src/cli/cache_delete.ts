/**
 * `tfcache cache delete`: removes named objects, or every object under a directory prefix. All
 * arguments are checked and resolved before anything is removed.
 *
 * @module
 */

import type { ObjectInfo } from "../proxy/store.ts";
import {
  type CacheContext,
  checkKeyArgument,
  encodesNames,
  keyPath,
  listObjects,
} from "./cache_inventory.ts";
import { cloneDirForStateKey, removeGitCloneLocked, removeObjectLocked } from "./cache_remove.ts";
import { UsageError } from "./cli_error.ts";
import { formatSize } from "./cache_units.ts";

/** What the arguments of `cache delete` resolve to. */
export interface DeletePlan {
  /** Objects to remove, each once, in argument order. */
  objects: ObjectInfo[];
  /** Directory prefixes among the arguments (`providers/example.com/`). */
  prefixes: string[];
  /** Arguments that name neither an object nor a directory holding objects. */
  missing: string[];
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw error;
  }
}

/**
 * Resolves `cache delete` arguments. An argument that is an object's key names that object; one
 * that names a directory (with or without a trailing `/`) names every object below it. Arguments
 * naming neither (or a directory without objects, like `unpacked/`) are reported as missing.
 *
 * @param context Cache root and store.
 * @param args Keys and prefixes as typed.
 * @param yes Whether prefixes may be deleted.
 * @returns The objects and prefixes.
 * @throws {UsageError} For an invalid key (absolute, `..`, …), no arguments, or a prefix without
 * `yes`.
 */
export async function planDelete(
  context: CacheContext,
  args: readonly string[],
  yes: boolean,
): Promise<DeletePlan> {
  if (args.length === 0) {
    throw new UsageError("missing KEY or PREFIX to delete (see `tfcache cache list`)", "cache");
  }
  const checked = args.map((arg) => ({ arg, ...checkKeyArgument(arg, context.root, "cache") }));
  const plan: DeletePlan = { objects: [], prefixes: [], missing: [] };
  const seen = new Set<string>();
  const add = (info: ObjectInfo) => {
    if (seen.has(info.key)) return;
    seen.add(info.key);
    plan.objects.push(info);
  };
  for (const { arg, key, trailingSlash } of checked) {
    const info = trailingSlash ? undefined : await context.store.stat(key);
    if (info !== undefined) {
      add(info);
    } else if (await isDirectory(keyPath(context, key))) {
      const prefix = `${key}/`;
      let found = 0;
      for await (const object of listObjects(context, prefix)) {
        found++;
        add(object);
      }
      if (found > 0) plan.prefixes.push(prefix);
      else plan.missing.push(arg);
    } else {
      plan.missing.push(arg);
    }
  }
  if (plan.prefixes.length > 0 && !yes) {
    const count = plan.objects.length;
    const bytes = plan.objects.reduce((sum, o) => sum + o.size, 0);
    throw new UsageError(
      `${plan.prefixes.map((p) => `"${p}"`).join(", ")} ${
        plan.prefixes.length === 1 ? "is a prefix" : "are prefixes"
      } (${count} object${count === 1 ? "" : "s"}, ${formatSize(bytes)} in all); ` +
        "pass --yes to delete every object under it, or list them with `tfcache cache list PREFIX`",
      "cache",
    );
  }
  return plan;
}

/** One removal done by {@linkcode executeDelete}. */
export interface DeletedObject {
  /** Cache key. */
  key: string;
  /** Bytes freed (the object's size, plus its git mirror clone for git state keys). */
  bytes: number;
}

/**
 * Removes the planned objects, each under its store lock (waiting for a fill of it to finish);
 * removing a git mirror state object also removes its bare clone.
 *
 * @param context Cache root and store.
 * @param plan What {@linkcode planDelete} returned.
 * @param onDeleted Called after each removal.
 * @returns What was removed (objects that vanished meanwhile are left out).
 */
export async function executeDelete(
  context: CacheContext,
  plan: DeletePlan,
  onDeleted?: (deleted: DeletedObject) => void,
): Promise<DeletedObject[]> {
  const done: DeletedObject[] = [];
  for (const object of plan.objects) {
    let bytes: number | undefined;
    if (cloneDirForStateKey(context.root, object.key, encodesNames(context)) === undefined) {
      const outcome = await removeObjectLocked(context, object.key);
      if (outcome.removed) bytes = outcome.info.size;
    } else {
      bytes = await removeGitCloneLocked(context, object.key);
    }
    if (bytes === undefined) continue;
    const deleted = { key: object.key, bytes };
    done.push(deleted);
    onDeleted?.(deleted);
  }
  return done;
}

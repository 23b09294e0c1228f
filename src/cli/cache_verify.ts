/**
 * `tfcache cache verify`: re-hashes stored objects and finds those whose bytes no longer match
 * their sidecar (disk corruption, or a file changed by something other than tfcache).
 *
 * It walks sidecars rather than the store listing, because the store hides an object whose file
 * no longer has the size or modification time its sidecar recorded (it is refetched on the next
 * request); verify reports those as `modified` and sidecars without an object as `orphaned`.
 * Every suspect is confirmed under the object's store lock, so a commit in progress is never
 * mistaken for damage, and `--fix` deletes under that same lock.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { fromDiskPath } from "../proxy/_key_path.ts";
import { isValidKey, SIDECAR_SUFFIX, TEMP_PREFIX } from "../proxy/cache_key.ts";
import type { ObjectInfo } from "../proxy/store.ts";
import { type CacheContext, encodesNames, keyPath, NON_OBJECT_DIRS } from "./cache_inventory.ts";

/** What is wrong with an object. */
export type VerifyProblemKind = "hash-mismatch" | "modified" | "orphaned";

/** One bad object. */
export interface VerifyProblem {
  /** Cache key. */
  key: string;
  /** What is wrong. */
  problem: VerifyProblemKind;
  /** Human explanation. */
  detail: string;
  /** Whether `fix` removed it. */
  fixed: boolean;
}

/** Options for {@linkcode verifyCache}. */
export interface VerifyOptions {
  /** Only keys starting with this string (checked by the caller). */
  prefix?: string;
  /** Delete the bad objects. */
  fix?: boolean;
  /** Called for each bad object as it is found. */
  onProblem?: (problem: VerifyProblem) => void;
}

/** What {@linkcode verifyCache} found. */
export interface VerifyResult {
  /** Objects whose bytes were hashed. */
  checked: number;
  /** Bytes hashed. */
  bytes: number;
  /** Bad objects. */
  problems: VerifyProblem[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw error;
  }
}

/**
 * Keys of every sidecar under the key directory `dir` (recursively), in key order; on-disk names
 * are decoded as the store encodes them, and names that encode no key are skipped.
 */
async function* sidecarKeys(context: CacheContext, dir: string): AsyncGenerator<string> {
  const encoded = encodesNames(context);
  const entries: { entry: Deno.DirEntry; name: string }[] = [];
  try {
    for await (const entry of Deno.readDir(dir === "" ? context.root : keyPath(context, dir))) {
      const name = fromDiskPath(entry.name, encoded);
      if (name !== undefined) entries.push({ entry, name });
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return;
    throw error;
  }
  entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  for (const { entry, name } of entries) {
    if (name.startsWith(TEMP_PREFIX)) continue;
    const path = dir === "" ? name : `${dir}/${name}`;
    if (entry.isDirectory) {
      if (dir !== "" || (!NON_OBJECT_DIRS.has(name) && !name.startsWith("."))) {
        yield* sidecarKeys(context, path);
      }
    } else if (entry.isFile && name.endsWith(SIDECAR_SUFFIX)) {
      const key = path.slice(0, -SIDECAR_SUFFIX.length);
      if (isValidKey(key)) yield key;
    }
  }
}

/**
 * SHA-256 of a stored object's bytes, read through the store (so the metadata returned is the
 * one that describes the bytes read).
 */
async function hashObject(
  context: CacheContext,
  key: string,
): Promise<{ info: ObjectInfo; sha256: string } | undefined> {
  let opened;
  try {
    opened = await context.store.open(key);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const hash = createHash("sha256");
  for await (const chunk of opened.body) hash.update(chunk);
  return { info: opened.info, sha256: hash.digest("hex") };
}

/**
 * Verifies the objects under `prefix` (see the module documentation).
 *
 * @param context Cache root and store.
 * @param options Prefix, fix and progress callback.
 * @returns Counts and the bad objects.
 */
export async function verifyCache(
  context: CacheContext,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const prefix = options.prefix ?? "";
  const slash = prefix.lastIndexOf("/");
  const start = slash > 0 ? prefix.slice(0, slash) : "";
  if (NON_OBJECT_DIRS.has(start.split("/")[0] ?? "")) return { checked: 0, bytes: 0, problems: [] };
  const result: VerifyResult = { checked: 0, bytes: 0, problems: [] };
  for await (const key of sidecarKeys(context, start)) {
    if (!key.startsWith(prefix)) continue;
    const first = await hashObject(context, key);
    if (first !== undefined) {
      result.checked++;
      result.bytes += first.info.size;
      if (first.sha256 === first.info.sha256) continue;
    }
    const problem = await confirm(context, key, options.fix === true);
    if (problem !== undefined) {
      result.problems.push(problem);
      options.onProblem?.(problem);
    }
  }
  return result;
}

/** Re-examines a suspect under its store lock; deletes it there when `fix`. */
async function confirm(
  context: CacheContext,
  key: string,
  fix: boolean,
): Promise<VerifyProblem | undefined> {
  await using _held = await context.store.lock(key);
  const objectPath = keyPath(context, key);
  let found: Omit<VerifyProblem, "fixed"> | undefined;
  const again = await hashObject(context, key);
  if (again !== undefined) {
    if (again.sha256 === again.info.sha256) return undefined;
    found = {
      key,
      problem: "hash-mismatch",
      detail: `bytes have SHA-256 ${again.sha256}, metadata says ${again.info.sha256}`,
    };
  } else if (!(await exists(objectPath + SIDECAR_SUFFIX))) {
    return undefined; // removed meanwhile
  } else if (await exists(objectPath)) {
    found = {
      key,
      problem: "modified",
      detail: "file no longer has the size or modification time its metadata recorded",
    };
  } else {
    found = { key, problem: "orphaned", detail: "metadata without an object file" };
  }
  if (fix) await context.store.delete(key);
  return { ...found, fixed: fix };
}

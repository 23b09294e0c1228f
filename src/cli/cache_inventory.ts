/**
 * What a cache directory holds, as `tfcache cache` sees it: the store's objects (keys with a
 * sidecar, grouped by what produced them), the git mirror clones and the unpacked provider
 * cache, plus the key-argument checks shared by the sub-commands.
 *
 * Object listings never descend into the directories that hold no store objects
 * (`git-mirrors/`, `git-mirrors-http/`, `unpacked/`, `tls/`), which can hold many files.
 *
 * Names found on disk are mapped back to keys the way the store maps them
 * ({@linkcode CacheContext.encodeColons}: `host%3Aport` directories stand for `host:port` keys).
 *
 * @module
 */

import { isAbsolute, join, relative, sep } from "node:path";
import { DEFAULT_ENCODE_COLONS, fromDiskPath, toDiskPath } from "../proxy/_key_path.ts";
import { validateKey } from "../proxy/cache_key.ts";
import type { ObjectInfo, Store } from "../proxy/store.ts";
import { UsageError } from "./cli_error.ts";

/** A cache directory and the store on it. */
export interface CacheContext {
  /** Absolute cache directory. */
  root: string;
  /** The store on `root` (a `FileStore` for the CLI). */
  store: Store;
  /**
   * Whether the store encodes its on-disk names (`FileStore.encodeColons`: `%` as `%25`, `:` as
   * `%3A`); default: on Windows only, as `FileStore`.
   */
  encodeColons?: boolean;
}

/**
 * Whether the cache's on-disk names are encoded.
 *
 * @param context Cache root and store.
 * @returns `context.encodeColons`, else the platform default.
 */
export function encodesNames(context: CacheContext): boolean {
  return context.encodeColons ?? DEFAULT_ENCODE_COLONS;
}

/**
 * The on-disk path of a key (or key prefix) under the cache root.
 *
 * @param context Cache root and store.
 * @param key A validated key or prefix without a trailing `/`.
 * @returns `<root>/<key>`, encoded when the store encodes names.
 */
export function keyPath(context: CacheContext, key: string): string {
  return join(context.root, ...toDiskPath(key, encodesNames(context)).split("/"));
}

/** What produced an object, from its key. */
export type ObjectGroup =
  | "providers"
  | "registry"
  | "modules"
  | "module-sources"
  | "discovery"
  | "git"
  | "other";

/** Display names of the object groups, in report order. */
export const GROUP_LABELS: Readonly<Record<ObjectGroup, string>> = {
  "providers": "providers (network mirror)",
  "registry": "registry metadata",
  "modules": "modules",
  "module-sources": "module sources",
  "discovery": "service discovery",
  "git": "git mirror state",
  "other": "other",
};

/** Top-level directories of a cache root that never hold store objects. */
export const NON_OBJECT_DIRS: ReadonlySet<string> = new Set([
  "git-mirrors",
  "git-mirrors-http",
  "unpacked",
  "tls",
]);

/** Where `tfcache providers install` keeps its unpacked packages, under the cache root. */
export const UNPACKED_DIR = "unpacked";

/** Git mirror clone directories (HTTPS remotes, plain-HTTP remotes) and their state-key prefixes. */
const GIT_CLONE_ROOTS: readonly { dir: string; keyPrefix: string }[] = [
  { dir: "git-mirrors", keyPrefix: "git" },
  { dir: "git-mirrors-http", keyPrefix: "git-http" },
];

/**
 * The group an object belongs to.
 *
 * @param key Cache key.
 * @returns The group, e.g. `module-sources` for `modules/_source/<sha>.tar.gz`.
 */
export function groupOf(key: string): ObjectGroup {
  const top = key.slice(0, key.indexOf("/"));
  switch (top) {
    case "providers":
    case "registry":
    case "discovery":
      return top;
    case "modules":
      return key.startsWith("modules/_source/") ? "module-sources" : "modules";
    case "git":
    case "git-http":
      return "git";
    default:
      return "other";
  }
}

function isAbsent(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory;
}

async function readDirSorted(path: string): Promise<Deno.DirEntry[]> {
  const entries: Deno.DirEntry[] = [];
  try {
    for await (const entry of Deno.readDir(path)) entries.push(entry);
  } catch (error) {
    if (isAbsent(error)) return [];
    throw error;
  }
  return entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * A key or prefix given on the command line, checked.
 *
 * @param argument What the user typed, e.g. `providers/registry.terraform.io/hashicorp/`.
 * @param root The cache root, to suggest the relative form of an absolute path inside it.
 * @param command The sub-command, for the usage hint.
 * @returns The key without a trailing `/`, and whether one was given.
 * @throws {UsageError} For absolute paths, `..` or `.` segments and every other invalid key.
 */
export function checkKeyArgument(
  argument: string,
  root: string,
  command = "cache",
): { key: string; trailingSlash: boolean } {
  if (isAbsolute(argument) || /^[A-Za-z]:/.test(argument) || argument.startsWith("\\")) {
    const inside = relative(root, argument);
    const hint = inside !== "" && !inside.startsWith("..") && !isAbsolute(inside)
      ? `; did you mean "${inside.split(sep).join("/")}"?`
      : "";
    throw new UsageError(
      `Cannot use "${argument}": give a key relative to the cache directory ${root}${hint}`,
      command,
    );
  }
  const trailingSlash = argument.endsWith("/");
  const key = trailingSlash ? argument.slice(0, -1) : argument;
  try {
    validateKey(key);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(
      `${reason}; keys are paths relative to the cache directory, like ` +
        `"providers/registry.terraform.io/hashicorp/aws/index.json"`,
      command,
    );
  }
  return { key, trailingSlash };
}

/**
 * Lists the store's objects in key order, skipping the directories that hold none.
 *
 * @param context Cache root and store.
 * @param prefix Only keys starting with this string (checked by the caller).
 * @returns The objects' metadata.
 */
export async function* listObjects(
  context: CacheContext,
  prefix = "",
): AsyncGenerator<ObjectInfo> {
  const slash = prefix.indexOf("/");
  if (slash !== -1) {
    if (NON_OBJECT_DIRS.has(prefix.slice(0, slash))) return;
    yield* context.store.list(prefix);
    return;
  }
  const encoded = encodesNames(context);
  const names = (await readDirSorted(context.root))
    .map((entry) => ({ entry, name: fromDiskPath(entry.name, encoded) }))
    .filter((e): e is { entry: Deno.DirEntry; name: string } => e.name !== undefined)
    .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  for (const { entry, name } of names) {
    if (!name.startsWith(prefix) || name.startsWith(".")) continue;
    if (entry.isDirectory) {
      if (!NON_OBJECT_DIRS.has(entry.name)) yield* context.store.list(`${name}/`);
    } else if (entry.isFile) {
      let info: ObjectInfo | undefined;
      try {
        info = await context.store.stat(validateKey(name));
      } catch {
        continue; // sidecars, lock files and other names that are not keys
      }
      if (info !== undefined) yield info;
    }
  }
}

/** File count and byte total of a directory tree. */
export interface TreeSize {
  /** Regular files. */
  files: number;
  /** Sum of the regular files' sizes (symbolic links are not followed). */
  bytes: number;
}

/**
 * Adds up the regular files under `path` without following symbolic links.
 *
 * @param path A directory (absent counts as empty).
 * @returns Files and bytes.
 */
export async function treeSize(path: string): Promise<TreeSize> {
  const total: TreeSize = { files: 0, bytes: 0 };
  for (const entry of await readDirSorted(path)) {
    const child = join(path, entry.name);
    if (entry.isDirectory) {
      const sub = await treeSize(child);
      total.files += sub.files;
      total.bytes += sub.bytes;
    } else if (entry.isFile) {
      try {
        total.bytes += (await Deno.lstat(child)).size;
        total.files++;
      } catch (error) {
        if (!isAbsent(error)) throw error;
      }
    }
  }
  return total;
}

/** A bare git mirror clone under the cache root. */
export interface GitClone {
  /** Absolute path of the clone (`…/<repo>.git`), or of a leftover temporary clone. */
  path: string;
  /** Path relative to the cache root, `/`-separated. */
  relativePath: string;
  /** The store key of the clone's state object (`git/<host>/<repo>.json`). */
  stateKey: string;
  /** When the clone was last fetched (`FETCH_HEAD`, else `HEAD`, else directory mtime). */
  lastFetched: Date;
  /** A leftover `<repo>.git.tmp-*` directory of an interrupted first clone. */
  temporary: boolean;
}

async function mtimeOf(path: string): Promise<Date | undefined> {
  try {
    return (await Deno.lstat(path)).mtime ?? undefined;
  } catch (error) {
    if (isAbsent(error)) return undefined;
    throw error;
  }
}

/**
 * When a bare clone was last fetched: the mtime of `FETCH_HEAD`, else of `HEAD`, else of the
 * directory (the epoch when none exists).
 *
 * @param path The clone directory.
 * @returns The time.
 */
export async function gitCloneLastFetched(path: string): Promise<Date> {
  return await mtimeOf(join(path, "FETCH_HEAD")) ?? await mtimeOf(join(path, "HEAD")) ??
    await mtimeOf(path) ?? new Date(0);
}

/**
 * Lists the git mirror clones (and leftover temporary clones) in key order.
 *
 * @param root The cache root.
 * @param encodeColons Whether clone directory names are encoded as the store's names are
 * (default: on Windows only); directories whose names encode no key are skipped.
 * @returns One entry per clone directory.
 */
export async function* listGitClones(
  root: string,
  encodeColons: boolean = DEFAULT_ENCODE_COLONS,
): AsyncGenerator<GitClone> {
  for (const { dir, keyPrefix } of GIT_CLONE_ROOTS) {
    yield* walkClones(root, [dir], keyPrefix, encodeColons);
  }
}

async function* walkClones(
  root: string,
  segments: string[],
  keyPrefix: string,
  encodeColons: boolean,
): AsyncGenerator<GitClone> {
  const path = join(root, ...segments);
  for (const entry of await readDirSorted(path)) {
    if (!entry.isDirectory) continue;
    const child = [...segments, entry.name];
    const childPath = join(root, ...child);
    const temporary = /\.git\.tmp-/.test(entry.name);
    if (temporary || entry.name.endsWith(".git")) {
      const repo = [...child.slice(1, -1), entry.name.replace(/\.git(\.tmp-.*)?$/, "")];
      const repoKey = fromDiskPath(repo.join("/"), encodeColons);
      if (repoKey === undefined) continue;
      yield {
        path: childPath,
        relativePath: child.join("/"),
        stateKey: `${keyPrefix}/${repoKey}.json`,
        lastFetched: await gitCloneLastFetched(childPath),
        temporary,
      };
    } else {
      yield* walkClones(root, child, keyPrefix, encodeColons);
    }
  }
}

/** Counts of the unpacked provider cache. */
export interface UnpackedSummary {
  /** Unpacked packages (`HOST/NS/TYPE/VERSION/OS_ARCH` directories). */
  packages: number;
  /** Bytes of every file under `unpacked/`. */
  bytes: number;
}

/**
 * Counts the packages and bytes of the unpacked provider cache (`<root>/unpacked/`).
 *
 * @param root The cache root.
 * @returns Packages and bytes (zero when there is none).
 */
export async function summarizeUnpacked(root: string): Promise<UnpackedSummary> {
  const base = join(root, UNPACKED_DIR);
  let packages = 0;
  const countAt = async (path: string, depth: number): Promise<void> => {
    for (const entry of await readDirSorted(path)) {
      if (!entry.isDirectory || (depth === 0 && entry.name.startsWith("."))) continue;
      if (depth === 4) packages++;
      else await countAt(join(path, entry.name), depth + 1);
    }
  };
  await countAt(base, 0);
  return { packages, bytes: (await treeSize(base)).bytes };
}

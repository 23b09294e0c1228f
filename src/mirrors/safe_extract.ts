/**
 * Safe extraction into a directory: entry names are normalised and refused when they would leave
 * the target (`..`, absolute paths, writes through symlinks, links pointing outside), and the
 * entry count, single-file size and total size are bounded. Used by the tar and zip readers.
 *
 * @module
 */

import { join, resolve, sep } from "node:path";
import { UnsafeArchiveError } from "./module_source_errors.ts";

/** Bounds applied while extracting archives and packing directory trees. */
export interface TreeLimits {
  /** Largest sum of regular-file sizes. */
  maxTotalBytes: number;
  /** Most entries (files, directories and links). */
  maxEntries: number;
  /** Largest single regular file. */
  maxFileBytes: number;
}

/** Default bounds: 1 GiB total, 100 000 entries, 512 MiB per file. */
export const DEFAULT_TREE_LIMITS: Readonly<TreeLimits> = {
  maxTotalBytes: 1024 * 1024 * 1024,
  maxEntries: 100_000,
  maxFileBytes: 512 * 1024 * 1024,
};

/**
 * Normalises an archive entry name into a safe relative path (`/`-separated, no `.`/`..`
 * segments), or throws.
 *
 * @param name The raw entry name.
 * @returns The relative path, or `""` for the archive root (`./`).
 * @throws {UnsafeArchiveError} for absolute names, `..` segments, NUL or backslashes.
 */
export function safeRelativePath(name: string): string {
  if (name.includes("\0")) throw new UnsafeArchiveError(name, "the name contains NUL");
  if (name.includes("\\")) throw new UnsafeArchiveError(name, "the name contains a backslash");
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) {
    throw new UnsafeArchiveError(name, "absolute paths are not allowed");
  }
  const parts: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") throw new UnsafeArchiveError(name, "'..' segments are not allowed");
    parts.push(part);
  }
  return parts.join("/");
}

/** Whether `child` (absolute, resolved) is `root` or inside it. */
export function isInside(root: string, child: string): boolean {
  return child === root || child.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Writes archive entries under one directory. Symlinks are created last and then checked with
 * `realpath`, so no write ever goes through a link and no link may point outside the target.
 */
export class SafeExtractor {
  readonly #root: string;
  readonly #limits: TreeLimits;
  #entries = 0;
  #total = 0;
  readonly #files = new Set<string>();
  readonly #dirs = new Set<string>([""]);
  readonly #links: { rel: string; target: string }[] = [];

  /**
   * @param root Existing empty directory to extract into (absolute or relative).
   * @param limits Bounds; defaults to {@linkcode DEFAULT_TREE_LIMITS}.
   */
  constructor(root: string, limits: TreeLimits = DEFAULT_TREE_LIMITS) {
    this.#root = resolve(root);
    this.#limits = limits;
  }

  #count(name: string): void {
    this.#entries++;
    if (this.#entries > this.#limits.maxEntries) {
      throw new UnsafeArchiveError(name, `more than ${this.#limits.maxEntries} entries`);
    }
  }

  async #ensureDir(rel: string, name: string): Promise<void> {
    if (this.#dirs.has(rel)) return;
    if (this.#links.some((l) => l.rel === rel)) {
      throw new UnsafeArchiveError(name, `"${rel}" is a link; nothing is written through links`);
    }
    if (this.#files.has(rel)) {
      throw new UnsafeArchiveError(name, `"${rel}" is both a file and a directory`);
    }
    const slash = rel.lastIndexOf("/");
    if (slash !== -1) await this.#ensureDir(rel.slice(0, slash), name);
    await Deno.mkdir(join(this.#root, rel), { mode: 0o755 }).catch((e) => {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    });
    this.#dirs.add(rel);
  }

  async #parentOf(rel: string, name: string): Promise<void> {
    if (rel === "") throw new UnsafeArchiveError(name, "a file entry has an empty name");
    if (this.#dirs.has(rel)) {
      throw new UnsafeArchiveError(name, `"${rel}" is both a directory and a file`);
    }
    const slash = rel.lastIndexOf("/");
    if (slash !== -1) await this.#ensureDir(rel.slice(0, slash), name);
  }

  /**
   * Creates a directory entry.
   *
   * @param name Raw entry name.
   */
  async directory(name: string): Promise<void> {
    this.#count(name);
    const rel = safeRelativePath(name);
    if (rel !== "") await this.#ensureDir(rel, name);
  }

  /**
   * Writes a regular file from a byte stream, enforcing the size limits while copying.
   *
   * @param name Raw entry name.
   * @param body The file bytes (consumed or cancelled).
   * @param executable Whether any execute bit was set (mode 0755, else 0644).
   */
  async file(name: string, body: ReadableStream<Uint8Array>, executable: boolean): Promise<void> {
    try {
      this.#count(name);
      const rel = safeRelativePath(name);
      await this.#parentOf(rel, name);
      if (this.#links.some((l) => l.rel === rel)) {
        throw new UnsafeArchiveError(name, `"${rel}" is both a link and a file`);
      }
      const path = join(this.#root, rel);
      const previous = this.#files.has(rel) ? (await Deno.stat(path)).size : 0;
      this.#total -= previous;
      this.#files.add(rel);
      using file = await Deno.open(path, { write: true, create: true, truncate: true });
      await Deno.chmod(path, executable ? 0o755 : 0o644);
      let size = 0;
      for await (const chunk of body) {
        size += chunk.byteLength;
        this.#total += chunk.byteLength;
        if (size > this.#limits.maxFileBytes) {
          throw new UnsafeArchiveError(name, `larger than ${this.#limits.maxFileBytes} bytes`);
        }
        if (this.#total > this.#limits.maxTotalBytes) {
          throw new UnsafeArchiveError(
            name,
            `the archive unpacks to more than ${this.#limits.maxTotalBytes} bytes`,
          );
        }
        let off = 0;
        while (off < chunk.byteLength) off += await file.write(chunk.subarray(off));
      }
    } catch (e) {
      await body.cancel().catch(() => {});
      throw e;
    }
  }

  /**
   * Records a symlink; it is created by {@linkcode finish} and must resolve inside the target.
   *
   * @param name Raw entry name.
   * @param target Link target as stored in the archive.
   */
  async symlink(name: string, target: string): Promise<void> {
    this.#count(name);
    const rel = safeRelativePath(name);
    await this.#parentOf(rel, name);
    if (target === "" || target.includes("\0")) {
      throw new UnsafeArchiveError(name, "the link target is empty or contains NUL");
    }
    if (target.startsWith("/") || /^[A-Za-z]:/.test(target)) {
      throw new UnsafeArchiveError(name, `the link points to the absolute path "${target}"`);
    }
    const dir = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
    const lexical = resolve(this.#root, dir, target);
    if (!isInside(this.#root, lexical)) {
      throw new UnsafeArchiveError(name, `the link points outside the target ("${target}")`);
    }
    if (this.#files.has(rel) || this.#links.some((l) => l.rel === rel)) {
      throw new UnsafeArchiveError(name, `"${rel}" appears twice`);
    }
    this.#links.push({ rel, target });
  }

  /**
   * Extracts a hard link as a copy of an earlier regular-file entry.
   *
   * @param name Raw entry name.
   * @param target Name of the earlier entry it links to.
   */
  async hardlink(name: string, target: string): Promise<void> {
    const targetRel = safeRelativePath(target);
    if (!this.#files.has(targetRel)) {
      throw new UnsafeArchiveError(name, `the hard link target "${target}" is not an earlier file`);
    }
    const source = await Deno.open(join(this.#root, targetRel));
    const mode = (await source.stat()).mode ?? 0o644;
    await this.file(name, source.readable, (mode & 0o111) !== 0);
  }

  /**
   * Creates the recorded symlinks and checks each one resolves inside the target.
   *
   * @throws {UnsafeArchiveError} when a link (possibly through other links) leaves the target.
   */
  async finish(): Promise<void> {
    for (const link of this.#links) {
      await Deno.symlink(link.target, join(this.#root, link.rel));
    }
    const rootReal = await Deno.realPath(this.#root);
    for (const link of this.#links) {
      let real: string;
      try {
        real = await Deno.realPath(join(this.#root, link.rel));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) continue; // dangling: harmless, skipped when packing
        throw new UnsafeArchiveError(link.rel, `the link does not resolve: ${String(e)}`);
      }
      if (!isInside(rootReal, real)) {
        throw new UnsafeArchiveError(
          link.rel,
          `the link resolves outside the target ("${link.target}")`,
        );
      }
    }
  }
}

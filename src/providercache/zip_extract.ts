/**
 * Safe extraction of a provider zip into an empty directory, compatible with terraform's
 * (go-getter's) result so the directory's `h1:` equals the zip's:
 *
 * - every entry is checked before anything is written: no `..` segment (split on `/` or `\`),
 *   no absolute name (`/x`, `\x`, `C:x`), no NUL; a symlink entry must point inside the package
 *   (it is then written, like go-getter does, as a regular file holding the link text, so the
 *   package never contains a real link);
 * - bounded: entry count, per-file size and total size, checked against the declared sizes up
 *   front and against the bytes actually inflated while writing ("zip bombs" lie in headers);
 * - modes: a Unix-made entry keeps `mode & 0o777` (so the executable bit survives), set with an
 *   explicit chmod to bypass the umask; other entries get 0o666, or 0o444 when MS-DOS read-only;
 * - directories are created 0o755; modification times are not preserved;
 * - names are written as their exact stored bytes (which must be UTF-8), so the directory hashes
 *   like the zip; the `h1:` of the written tree is computed while writing (each file's bytes are
 *   hashed as they go to disk) and returned, so callers need not walk the tree again.
 *
 * The archive is read with the strict reader of `src/registry/zip_reader.ts` (no zip64, no
 * encryption, STORE or DEFLATE only, exact sizes and CRC-32 checked while streaming).
 *
 * The caller extracts into a private temporary directory and removes it on failure.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join, posix } from "node:path";
import { ZipFormatError } from "../registry/errors.ts";
import { packageHashV1FromDigests, packageHashV1FromDir } from "../registry/hashes.ts";
import { ZipArchive, type ZipEntry } from "../registry/zip_reader.ts";
import { ArchiveLimitError, UnsafeArchiveEntryError } from "./errors.ts";

/** Bounds on what one provider archive may unpack to. */
export interface ExtractLimits {
  /** Most entries (files and directories). */
  readonly maxEntries: number;
  /** Largest single file, in bytes (uncompressed). */
  readonly maxFileBytes: number;
  /** Largest sum of file sizes, in bytes (uncompressed). */
  readonly maxTotalBytes: number;
}

/**
 * Defaults sized for real providers (the largest official ones unpack to well under 1 GiB):
 * 10 000 entries, 2 GiB per file, 4 GiB in total.
 */
export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = Object.freeze({
  maxEntries: 10_000,
  maxFileBytes: 2 * 1024 * 1024 * 1024,
  maxTotalBytes: 4 * 1024 * 1024 * 1024,
});

/** Options for {@linkcode extractProviderZip}. */
export interface ExtractOptions {
  /** Bounds (default {@linkcode DEFAULT_EXTRACT_LIMITS}). */
  limits?: ExtractLimits | undefined;
  /** Aborts the extraction. */
  signal?: AbortSignal | undefined;
}

/** What {@linkcode extractProviderZip} wrote. */
export interface ExtractResult {
  /** `h1:` of the extracted directory (as {@linkcode packageHashV1FromDir} would compute it). */
  readonly h1: string;
  /** Regular files written. */
  readonly files: number;
  /** Bytes written. */
  readonly bytes: number;
}

const _S_IFMT = 0o170000;
const _S_IFLNK = 0o120000;
const _S_IFDIR = 0o040000;
const _MSDOS_DIR = 0x10;
const _MSDOS_READONLY = 0x01;
const _MAX_LINK_BYTES = 4096;

interface _Planned {
  entry: ZipEntry;
  rel: string;
  directory: boolean;
  mode: number;
  linkText: Uint8Array | undefined;
}

/**
 * Extracts `zipPath` into `targetDir` (which must exist and be empty).
 *
 * @param zipPath The provider zip.
 * @param targetDir The destination directory.
 * @param options Limits and abort signal.
 * @returns The `h1:` of what was written, and counts.
 * @throws {ZipFormatError} when the file is not a readable zip, or is empty (a
 *   `ZipStructureError` from the reader says which rule a malformed archive broke).
 * @throws {UnsafeArchiveEntryError} for traversal, absolute names, names that are not UTF-8 or
 *   escaping symlinks.
 * @throws {ArchiveLimitError} when a limit is exceeded.
 */
export async function extractProviderZip(
  zipPath: string,
  targetDir: string,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const limits = options.limits ?? DEFAULT_EXTRACT_LIMITS;
  const signal = options.signal;
  using zip = await ZipArchive.open(zipPath);
  const entries = zip.entries;
  if (entries.length === 0) throw new ZipFormatError(zipPath, `empty archive: ${zipPath}`);
  if (entries.length > limits.maxEntries) {
    throw new ArchiveLimitError(zipPath, "entries", limits.maxEntries, `${entries.length}`);
  }
  const plan = await _plan(zip, limits, signal);
  const digests = new Map<string, string>();
  let total = 0;
  for (const item of plan) {
    signal?.throwIfAborted();
    const dest = join(targetDir, ...item.rel.split("/"));
    if (item.directory) {
      await Deno.mkdir(dest, { recursive: true, mode: 0o755 });
      continue;
    }
    await Deno.mkdir(dirname(dest), { recursive: true, mode: 0o755 });
    const hash = createHash("sha256");
    {
      using out = await Deno.open(dest, {
        write: true,
        create: true,
        truncate: true,
        mode: item.mode,
      });
      if (item.linkText !== undefined) {
        hash.update(item.linkText);
        await _writeAll(out, item.linkText);
        total += item.linkText.length;
      } else {
        let written = 0;
        await zip.read(item.entry, async (chunk) => {
          written += chunk.length;
          total += chunk.length;
          if (written > limits.maxFileBytes) {
            throw new ArchiveLimitError(zipPath, "file-bytes", limits.maxFileBytes, item.rel);
          }
          if (total > limits.maxTotalBytes) {
            throw new ArchiveLimitError(zipPath, "total-bytes", limits.maxTotalBytes, item.rel);
          }
          hash.update(chunk);
          await _writeAll(out, chunk);
        }, { signal });
      }
    }
    if (Deno.build.os !== "windows") await Deno.chmod(dest, item.mode);
    digests.set(item.rel, hash.digest("hex"));
  }
  const h1 = await _sameNames(targetDir, digests)
    ? packageHashV1FromDigests(digests)
    // The file system folded or normalised some names: hash what is actually there.
    : await packageHashV1FromDir(targetDir);
  return { h1, files: digests.size, bytes: total };
}

/**
 * Whether the tree under `root` holds exactly the files `written` names (a cheap listing, no
 * reading): false when the file system merged names that differ only in case or Unicode
 * normalisation, so the computed digests cannot be trusted to describe the tree.
 */
async function _sameNames(root: string, written: ReadonlyMap<string, string>): Promise<boolean> {
  let found = 0;
  const walk = async (abs: string, rel: string): Promise<boolean> => {
    for await (const entry of Deno.readDir(abs)) {
      const childRel = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory) {
        if (!await walk(join(abs, entry.name), childRel)) return false;
      } else {
        if (!entry.isFile || !written.has(childRel)) return false;
        found++;
      }
    }
    return true;
  };
  return await walk(root, "") && found === written.size;
}

async function _plan(
  zip: ZipArchive,
  limits: ExtractLimits,
  signal: AbortSignal | undefined,
): Promise<_Planned[]> {
  const zipPath = zip.displayName;
  const plan: _Planned[] = [];
  let declared = 0;
  for (const entry of zip.entries) {
    signal?.throwIfAborted();
    const name = entry.name;
    if (!entry.nameIsUtf8) {
      throw new UnsafeArchiveEntryError(
        zipPath,
        name,
        "has a name that is not valid UTF-8, so it cannot be written as stored",
      );
    }
    const rel = _safeName(zipPath, name);
    const unixMade = (entry.versionMadeBy >> 8) === 3;
    const unixMode = unixMade ? (entry.externalAttributes >>> 16) : 0;
    const directory = entry.isDirectory ||
      (unixMade
        ? (unixMode & _S_IFMT) === _S_IFDIR
        : (entry.externalAttributes & _MSDOS_DIR) !== 0);
    if (directory) {
      plan.push({ entry, rel, directory, mode: 0o755, linkText: undefined });
      continue;
    }
    const size = entry.uncompressedSize;
    if (size > limits.maxFileBytes) {
      throw new ArchiveLimitError(zipPath, "file-bytes", limits.maxFileBytes, name);
    }
    declared += size;
    if (declared > limits.maxTotalBytes) {
      throw new ArchiveLimitError(zipPath, "total-bytes", limits.maxTotalBytes, name);
    }
    let linkText: Uint8Array | undefined;
    if (unixMade && (unixMode & _S_IFMT) === _S_IFLNK) {
      linkText = await _readLink(zip, entry, signal);
      _checkLinkTarget(zipPath, name, rel, new TextDecoder().decode(linkText));
    }
    let mode: number;
    if (unixMade && (unixMode & 0o777) !== 0) {
      mode = unixMode & 0o777;
    } else {
      mode = (entry.externalAttributes & _MSDOS_READONLY) !== 0 ? 0o444 : 0o666;
    }
    plan.push({ entry, rel, directory, mode, linkText });
  }
  return plan;
}

function _safeName(zipPath: string, name: string): string {
  if (name === "") throw new UnsafeArchiveEntryError(zipPath, name, "has an empty name");
  if (name.includes("\0")) throw new UnsafeArchiveEntryError(zipPath, name, "contains NUL");
  if (name.startsWith("/") || name.startsWith("\\") || /^[A-Za-z]:/.test(name)) {
    throw new UnsafeArchiveEntryError(zipPath, name, "is an absolute path");
  }
  if (name.split(/[/\\]/).some((seg) => seg === "..")) {
    throw new UnsafeArchiveEntryError(zipPath, name, "contains '..'");
  }
  const rel = name.split("/").filter((s) => s !== "" && s !== ".").join("/");
  if (rel === "") throw new UnsafeArchiveEntryError(zipPath, name, "names the package root");
  return rel;
}

function _checkLinkTarget(zipPath: string, name: string, rel: string, target: string): void {
  if (
    target === "" || target.includes("\0") || target.startsWith("/") ||
    target.startsWith("\\") || /^[A-Za-z]:/.test(target)
  ) {
    throw new UnsafeArchiveEntryError(
      zipPath,
      name,
      `is a symlink to "${target}", outside the package`,
    );
  }
  const resolved = posix.normalize(posix.join(posix.dirname(rel), target.replaceAll("\\", "/")));
  if (resolved === ".." || resolved.startsWith("../")) {
    throw new UnsafeArchiveEntryError(
      zipPath,
      name,
      `is a symlink to "${target}", outside the package`,
    );
  }
}

async function _readLink(
  zip: ZipArchive,
  entry: ZipEntry,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  if (entry.uncompressedSize > _MAX_LINK_BYTES) {
    throw new UnsafeArchiveEntryError(zip.displayName, entry.name, "is an oversized symlink");
  }
  // The reader stops at the declared size, which was just bounded.
  const out = new Uint8Array(entry.uncompressedSize);
  let size = 0;
  await zip.read(entry, (chunk) => {
    out.set(chunk, size);
    size += chunk.length;
  }, { signal });
  return out;
}

async function _writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await file.write(data.subarray(off));
}

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
 * - directories are created 0o755; modification times are not preserved.
 *
 * The caller extracts into a private temporary directory and removes it on failure.
 *
 * @module
 */

import { dirname, join, posix } from "node:path";
import {
  configure,
  type Entry,
  type FileEntry,
  Reader,
  ZipReader,
} from "npm:@zip.js/zip.js@2.24.0";
import { ZipFormatError } from "../registry/errors.ts";
import { ArchiveLimitError, UnsafeArchiveEntryError } from "./errors.ts";

configure({ useWebWorkers: false });

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

const _S_IFMT = 0o170000;
const _S_IFLNK = 0o120000;
const _MAX_LINK_BYTES = 4096;

interface _Planned {
  entry: Entry;
  rel: string;
  mode: number;
  linkText: Uint8Array | undefined;
}

/**
 * Extracts `zipPath` into `targetDir` (which must exist and be empty).
 *
 * @param zipPath The provider zip.
 * @param targetDir The destination directory.
 * @param options Limits and abort signal.
 * @throws {ZipFormatError} when the file is not a readable zip, or is empty.
 * @throws {UnsafeArchiveEntryError} for traversal, absolute names or escaping symlinks.
 * @throws {ArchiveLimitError} when a limit is exceeded.
 */
export async function extractProviderZip(
  zipPath: string,
  targetDir: string,
  options: ExtractOptions = {},
): Promise<void> {
  const limits = options.limits ?? DEFAULT_EXTRACT_LIMITS;
  const signal = options.signal;
  using file = await Deno.open(zipPath, { read: true });
  const reader = new _FileReader(file, (await file.stat()).size);
  const zip = new ZipReader(reader, { filenameValidation: "tolerant" });
  try {
    let entries: Entry[];
    try {
      entries = await zip.getEntries();
    } catch (cause) {
      throw new ZipFormatError(zipPath, (cause as Error).message, { cause });
    }
    if (entries.length === 0) throw new ZipFormatError(zipPath, `empty archive: ${zipPath}`);
    if (entries.length > limits.maxEntries) {
      throw new ArchiveLimitError(zipPath, "entries", limits.maxEntries, `${entries.length}`);
    }
    const plan = await _plan(zipPath, entries, limits, signal);
    let total = 0;
    for (const item of plan) {
      signal?.throwIfAborted();
      const dest = join(targetDir, ...item.rel.split("/"));
      if (item.entry.directory) {
        await Deno.mkdir(dest, { recursive: true, mode: 0o755 });
        continue;
      }
      await Deno.mkdir(dirname(dest), { recursive: true, mode: 0o755 });
      const out = await Deno.open(dest, {
        write: true,
        create: true,
        truncate: true,
        mode: item.mode,
      });
      try {
        if (item.linkText !== undefined) {
          await _writeAll(out, item.linkText);
          total += item.linkText.length;
        } else {
          let written = 0;
          const sink = new WritableStream<Uint8Array>({
            async write(chunk) {
              written += chunk.length;
              total += chunk.length;
              if (written > limits.maxFileBytes) {
                throw new ArchiveLimitError(zipPath, "file-bytes", limits.maxFileBytes, item.rel);
              }
              if (total > limits.maxTotalBytes) {
                throw new ArchiveLimitError(zipPath, "total-bytes", limits.maxTotalBytes, item.rel);
              }
              await _writeAll(out, chunk);
            },
          });
          try {
            await item.entry.getData!(sink, {
              checkCrc32: true,
              ...(signal === undefined ? {} : { signal }),
            });
          } catch (cause) {
            if (cause instanceof ArchiveLimitError) throw cause;
            signal?.throwIfAborted();
            throw new ZipFormatError(
              zipPath,
              `cannot read entry "${item.entry.filename}": ${(cause as Error).message}`,
              { cause },
            );
          }
        }
      } finally {
        out.close();
      }
      if (Deno.build.os !== "windows") await Deno.chmod(dest, item.mode);
    }
  } finally {
    await zip.close();
  }
}

async function _plan(
  zipPath: string,
  entries: Entry[],
  limits: ExtractLimits,
  signal: AbortSignal | undefined,
): Promise<_Planned[]> {
  const plan: _Planned[] = [];
  let declared = 0;
  for (const entry of entries) {
    signal?.throwIfAborted();
    const name = entry.filename;
    const rel = _safeName(zipPath, name);
    if (entry.encrypted) throw new UnsafeArchiveEntryError(zipPath, name, "is encrypted");
    if (entry.directory) {
      plan.push({ entry, rel, mode: 0o755, linkText: undefined });
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
    const unixMade = (entry.versionMadeBy >> 8) === 3;
    const unixMode = unixMade ? (entry.externalFileAttributes >>> 16) : 0;
    let linkText: Uint8Array | undefined;
    if (unixMade && (unixMode & _S_IFMT) === _S_IFLNK) {
      linkText = await _readLink(zipPath, entry);
      _checkLinkTarget(zipPath, name, rel, new TextDecoder().decode(linkText));
    }
    let mode: number;
    if (unixMade && (unixMode & 0o777) !== 0) {
      mode = unixMode & 0o777;
    } else {
      mode = (entry.externalFileAttributes & 0x01) !== 0 ? 0o444 : 0o666;
    }
    plan.push({ entry, rel, mode, linkText });
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

async function _readLink(zipPath: string, entry: FileEntry): Promise<Uint8Array> {
  if (entry.uncompressedSize > _MAX_LINK_BYTES) {
    throw new UnsafeArchiveEntryError(zipPath, entry.filename, "is an oversized symlink");
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  await entry.getData(
    new WritableStream<Uint8Array>({
      write(chunk) {
        size += chunk.length;
        if (size > _MAX_LINK_BYTES) {
          throw new UnsafeArchiveEntryError(zipPath, entry.filename, "is an oversized symlink");
        }
        chunks.push(chunk.slice());
      },
    }),
    { checkCrc32: true },
  ).catch((cause: unknown) => {
    if (cause instanceof UnsafeArchiveEntryError) throw cause;
    throw new ZipFormatError(
      zipPath,
      `cannot read entry "${entry.filename}": ${(cause as Error).message}`,
      { cause },
    );
  });
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

async function _writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await file.write(data.subarray(off));
}

/** A zip.js reader over an open file, positional reads serialised. */
class _FileReader extends Reader<Deno.FsFile> {
  readonly #file: Deno.FsFile;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(file: Deno.FsFile, size: number) {
    super(file);
    this.#file = file;
    this.size = size;
  }

  override init(): Promise<void> {
    return Promise.resolve();
  }

  override readUint8Array(index: number, length: number): Promise<Uint8Array> {
    const run = this.#queue.then(() => this.#read(index, length));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #read(index: number, length: number): Promise<Uint8Array> {
    const want = Math.max(0, Math.min(length, this.size - index));
    const out = new Uint8Array(want);
    await this.#file.seek(index, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < want) {
      const n = await this.#file.read(out.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    return filled === want ? out : out.subarray(0, filled);
  }
}

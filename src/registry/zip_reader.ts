/**
 * A small, strict reader for provider zips: the end-of-central-directory record, the central
 * directory, and each entry's data (STORE, or DEFLATE inflated by the runtime's native
 * `DecompressionStream("deflate-raw")`), read with 1 MiB positioned reads and checked against
 * the declared size and CRC-32 while streaming.
 *
 * It is deliberately narrower than the zip format: whatever a provider release does not need is
 * refused with a typed error (all subclasses of {@linkcode ZipFormatError}) rather than guessed:
 *
 * - the EOCD record is searched only in the last 64 KiB + 22 bytes, and its comment must end
 *   within the file; multi-disk archives are refused;
 * - zip64 (any saturated 16/32-bit count, size or offset, or a zip64 EOCD locator) is refused;
 * - encrypted entries (flag bits 0 or 6) and methods other than 0 (STORE) and 8 (DEFLATE) are
 *   refused when the archive is opened, before any data is read;
 * - every entry's local header must sit inside the file before the central directory, carry the
 *   central directory's method (and sizes, when it has no data descriptor), and entries must not
 *   overlap (no "overlapping-entries" bombs);
 * - an entry must inflate to exactly its declared size (reading stops as soon as it exceeds it)
 *   and match its CRC-32.
 *
 * Names are kept exactly as stored ({@linkcode ZipEntry.rawName}); {@linkcode ZipEntry.name} is
 * their UTF-8 reading (as Go, which never applies CP437).
 *
 * @module
 */

import { crc32 } from "node:zlib";
import { ZipFormatError } from "./errors.ts";

/** What is wrong with an archive, for callers that branch on it. */
export type ZipProblem =
  | "not-a-zip"
  | "truncated"
  | "multi-disk"
  | "zip64"
  | "encrypted"
  | "unsupported-method"
  | "bad-offset"
  | "bad-header"
  | "size-mismatch"
  | "crc-mismatch"
  | "corrupt-data"
  | "too-large";

/** A structural problem found by {@linkcode ZipArchive}; `problem` says which. */
export class ZipStructureError extends ZipFormatError {
  /** Which rule the archive broke. */
  readonly problem: ZipProblem;
  /** The entry concerned (its name as UTF-8), when the problem is one entry's. */
  readonly entry: string | undefined;

  /**
   * @param path Path of the archive.
   * @param problem Which rule it broke.
   * @param detail A human-readable explanation.
   * @param options The entry concerned and the underlying `cause`.
   */
  constructor(
    path: string,
    problem: ZipProblem,
    detail: string,
    options: { entry?: string | undefined; cause?: unknown } = {},
  ) {
    super(
      path,
      options.entry === undefined ? detail : `cannot read entry "${options.entry}": ${detail}`,
      options.cause === undefined ? {} : { cause: options.cause },
    );
    this.name = "ZipStructureError";
    this.problem = problem;
    this.entry = options.entry;
  }
}

/** One central-directory entry. */
export interface ZipEntry {
  /** Position in the central directory (0-based). */
  readonly index: number;
  /** The name exactly as stored. */
  readonly rawName: Uint8Array;
  /** The name read as UTF-8 (invalid sequences become U+FFFD; see `nameIsUtf8`). */
  readonly name: string;
  /** Whether `rawName` is valid UTF-8, so `name` encodes back to the same bytes. */
  readonly nameIsUtf8: boolean;
  /** Whether the name ends with `/` (a directory entry). */
  readonly isDirectory: boolean;
  /** General-purpose flags. */
  readonly flags: number;
  /** Compression method: 0 (STORE) or 8 (DEFLATE). */
  readonly method: 0 | 8;
  /** CRC-32 of the uncompressed data. */
  readonly crc32: number;
  /** Bytes stored in the archive. */
  readonly compressedSize: number;
  /** Bytes after inflating. */
  readonly uncompressedSize: number;
  /** "Version made by" (its high byte is the creator system: 3 is Unix). */
  readonly versionMadeBy: number;
  /** External attributes (a Unix creator keeps `st_mode` in the high 16 bits). */
  readonly externalAttributes: number;
  /** Offset of the local file header. */
  readonly localHeaderOffset: number;
  /** Offset of the entry's data (after the local header, its name and extra field). */
  readonly dataOffset: number;
}

/** Options for {@linkcode ZipArchive.open}. */
export interface ZipOpenOptions {
  /** Name used in error messages (default: the path). */
  readonly displayName?: string | undefined;
  /** Largest central directory accepted, in bytes (default 64 MiB). */
  readonly maxCentralDirectoryBytes?: number | undefined;
}

/** Options for {@linkcode ZipArchive.read}. */
export interface ZipReadOptions {
  /** Aborts the read. */
  readonly signal?: AbortSignal | undefined;
}

/** Called with each chunk of an entry's uncompressed data, in order. */
export type ZipChunkSink = (chunk: Uint8Array) => void | Promise<void>;

const _EOCD_SIG = 0x06054b50;
const _ZIP64_LOCATOR_SIG = 0x07064b50;
const _CENTRAL_SIG = 0x02014b50;
const _LOCAL_SIG = 0x04034b50;
const _EOCD_BYTES = 22;
const _ZIP64_LOCATOR_BYTES = 20;
const _CENTRAL_BYTES = 46;
const _LOCAL_BYTES = 30;
const _MAX_COMMENT = 0xffff;
const _CHUNK = 1024 * 1024;
const _FLAG_ENCRYPTED = 0x0001;
const _FLAG_DATA_DESCRIPTOR = 0x0008;
const _FLAG_STRONG_ENCRYPTION = 0x0040;
const _U16_MAX = 0xffff;
const _U32_MAX = 0xffffffff;
const _DEFAULT_MAX_CD = 64 * 1024 * 1024;

const _utf8 = new TextDecoder("utf-8", { fatal: true });
const _utf8Lossy = new TextDecoder("utf-8");

/**
 * An open zip archive: its entries, and a way to stream each entry's data. Dispose it (or call
 * {@linkcode ZipArchive.close}) to close the file.
 *
 * @example
 * ```ts ignore
 * using zip = await ZipArchive.open("terraform-provider-null_3.2.0_linux_amd64.zip");
 * for (const entry of zip.entries) {
 *   await zip.read(entry, (chunk) => console.log(entry.name, chunk.length));
 * }
 * ```
 */
export class ZipArchive implements Disposable {
  /** The entries, in central-directory order. */
  readonly entries: readonly ZipEntry[];
  /** Size of the archive file. */
  readonly size: number;
  /** The name used in error messages. */
  readonly displayName: string;
  readonly #file: Deno.FsFile;
  #closed = false;

  private constructor(
    file: Deno.FsFile,
    size: number,
    displayName: string,
    entries: readonly ZipEntry[],
  ) {
    this.#file = file;
    this.size = size;
    this.displayName = displayName;
    this.entries = entries;
  }

  /**
   * Opens an archive and reads its central directory and local headers.
   *
   * @param path The zip file.
   * @param options Display name and bounds.
   * @returns The open archive.
   * @throws {ZipStructureError} when the archive breaks one of the rules in the module docs.
   * @throws {Deno.errors.NotFound} when the file does not exist (other I/O errors propagate).
   */
  static async open(path: string | URL, options: ZipOpenOptions = {}): Promise<ZipArchive> {
    const display = options.displayName ?? (path instanceof URL ? path.pathname : path);
    const file = await Deno.open(path, { read: true });
    try {
      const size = (await file.stat()).size;
      const entries = await _readDirectory(
        file,
        size,
        display,
        options.maxCentralDirectoryBytes ?? _DEFAULT_MAX_CD,
      );
      return new ZipArchive(file, size, display, entries);
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /**
   * Streams one entry's uncompressed data to `sink`, checking that it has exactly the declared
   * size (stopping as soon as it exceeds it) and the declared CRC-32. Directory entries must
   * be empty.
   *
   * @param entry One of {@linkcode ZipArchive.entries}.
   * @param sink Receives the chunks (each valid only during the call; copy to keep it).
   * @param options Abort signal.
   * @throws {ZipStructureError} for a size or CRC mismatch, or a corrupt DEFLATE stream.
   * @throws Whatever `sink` throws, and the signal's reason when aborted.
   */
  async read(entry: ZipEntry, sink: ZipChunkSink, options: ZipReadOptions = {}): Promise<void> {
    if (this.#closed) throw new TypeError(`Cannot read "${this.displayName}": it is closed`);
    if (this.entries[entry.index] !== entry) {
      throw new TypeError(`Cannot read "${entry.name}": not an entry of "${this.displayName}"`);
    }
    const signal = options.signal;
    signal?.throwIfAborted();
    let produced = 0;
    let crc = 0;
    const check: ZipChunkSink = (chunk) => {
      produced += chunk.length;
      if (produced > entry.uncompressedSize) {
        throw this.#entryError(
          entry,
          "size-mismatch",
          `its data inflates beyond the declared ${entry.uncompressedSize} bytes`,
        );
      }
      crc = crc32(chunk, crc);
      return sink(chunk);
    };
    if (entry.method === 0) {
      await this.#readRaw(entry, check, signal, false);
    } else {
      await this.#inflate(entry, check, signal);
    }
    if (produced !== entry.uncompressedSize) {
      throw this.#entryError(
        entry,
        "size-mismatch",
        `its data ends after ${produced} of the declared ${entry.uncompressedSize} bytes`,
      );
    }
    if ((crc >>> 0) !== entry.crc32) {
      throw this.#entryError(
        entry,
        "crc-mismatch",
        `CRC-32 mismatch (the archive is corrupt): expected ${_hex32(entry.crc32)}, got ${
          _hex32(crc >>> 0)
        }`,
      );
    }
  }

  /** Closes the file (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }

  /** Closes the file. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Reads the stored bytes of an entry with positioned 1 MiB reads. With `fresh`, each chunk is
   * a new buffer the sink may keep; otherwise one buffer is reused.
   */
  async #readRaw(
    entry: ZipEntry,
    sink: (chunk: Uint8Array<ArrayBuffer>) => void | Promise<void>,
    signal: AbortSignal | undefined,
    fresh: boolean,
  ): Promise<void> {
    let remaining = entry.compressedSize;
    if (remaining === 0) return;
    await this.#file.seek(entry.dataOffset, Deno.SeekMode.Start);
    const shared = fresh ? undefined : new Uint8Array(Math.min(_CHUNK, remaining));
    while (remaining > 0) {
      signal?.throwIfAborted();
      const want = Math.min(_CHUNK, remaining);
      const buf = shared === undefined ? new Uint8Array(want) : shared.subarray(0, want);
      let filled = 0;
      while (filled < want) {
        const n = await this.#file.read(buf.subarray(filled));
        if (n === null) {
          throw this.#entryError(entry, "truncated", "the file ends inside its data");
        }
        filled += n;
      }
      remaining -= want;
      await sink(buf);
    }
  }

  async #inflate(
    entry: ZipEntry,
    sink: ZipChunkSink,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const inflater = new DecompressionStream("deflate-raw");
    const writer = inflater.writable.getWriter();
    const reader = inflater.readable.getReader();
    let failure: { error: unknown } | undefined;
    const fail = (error: unknown) => {
      failure ??= { error };
    };
    const feeding = (async () => {
      try {
        await this.#readRaw(
          entry,
          async (chunk) => {
            if (failure !== undefined) throw failure.error;
            await writer.write(chunk);
          },
          signal,
          true,
        );
        await writer.close();
      } catch (error) {
        fail(error);
        await writer.abort(error).catch(() => {});
      }
    })();
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        if (failure !== undefined) break;
        await sink(value);
      }
    } catch (error) {
      fail(error);
    } finally {
      if (failure !== undefined) await reader.cancel(failure.error).catch(() => {});
      await feeding;
      reader.releaseLock();
    }
    if (failure !== undefined) {
      const error = failure.error;
      if (error instanceof ZipFormatError || signal?.aborted) throw error;
      if (error instanceof TypeError || error instanceof RangeError) {
        throw this.#entryError(
          entry,
          "corrupt-data",
          `its DEFLATE data is corrupt: ${error.message}`,
          error,
        );
      }
      throw error;
    }
  }

  #entryError(entry: ZipEntry, problem: ZipProblem, detail: string, cause?: unknown) {
    return new ZipStructureError(this.displayName, problem, detail, {
      entry: entry.name,
      cause,
    });
  }
}

async function _readAt(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<Uint8Array | undefined> {
  const out = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let filled = 0;
  while (filled < length) {
    const n = await file.read(out.subarray(filled));
    if (n === null) return undefined;
    filled += n;
  }
  return out;
}

async function _readDirectory(
  file: Deno.FsFile,
  size: number,
  display: string,
  maxCentralDirectoryBytes: number,
): Promise<ZipEntry[]> {
  const fail = (problem: ZipProblem, detail: string, entry?: string) =>
    new ZipStructureError(display, problem, detail, { entry });
  if (size < _EOCD_BYTES) {
    throw fail("not-a-zip", `${size} bytes is too short for a zip (no end of central directory)`);
  }
  // The EOCD record is the last 22 bytes plus a comment of at most 65535 bytes.
  const tailLength = Math.min(size, _EOCD_BYTES + _MAX_COMMENT);
  const tailStart = size - tailLength;
  const tail = (await _readAt(file, tailStart, tailLength))!;
  const tv = new DataView(tail.buffer);
  let at = -1;
  for (let i = tailLength - _EOCD_BYTES; i >= 0; i--) {
    if (tv.getUint32(i, true) !== _EOCD_SIG) continue;
    if (i + _EOCD_BYTES + tv.getUint16(i + 20, true) <= tailLength) {
      at = i;
      break;
    }
  }
  if (at < 0) {
    throw fail(
      "not-a-zip",
      "no end of central directory record in the last 64 KiB (not a zip file, or truncated)",
    );
  }
  const eocdOffset = tailStart + at;
  const disk = tv.getUint16(at + 4, true);
  const cdDisk = tv.getUint16(at + 6, true);
  const diskEntries = tv.getUint16(at + 8, true);
  const count = tv.getUint16(at + 10, true);
  const cdSize = tv.getUint32(at + 12, true);
  const cdOffset = tv.getUint32(at + 16, true);
  if (
    count === _U16_MAX || diskEntries === _U16_MAX || cdSize === _U32_MAX ||
    cdOffset === _U32_MAX ||
    (at >= _ZIP64_LOCATOR_BYTES &&
      tv.getUint32(at - _ZIP64_LOCATOR_BYTES, true) === _ZIP64_LOCATOR_SIG)
  ) {
    throw fail("zip64", "zip64 archives are not supported (provider packages never need them)");
  }
  if (disk !== 0 || cdDisk !== 0 || diskEntries !== count) {
    throw fail("multi-disk", "multi-disk (split) archives are not supported");
  }
  if (cdOffset + cdSize > eocdOffset) {
    throw fail(
      "bad-offset",
      `the central directory (offset ${cdOffset}, ${cdSize} bytes) overlaps the end record at ${eocdOffset}`,
    );
  }
  if (cdSize > maxCentralDirectoryBytes) {
    throw fail(
      "too-large",
      `the central directory has ${cdSize} bytes, more than the ${maxCentralDirectoryBytes} allowed`,
    );
  }
  if (count * _CENTRAL_BYTES > cdSize) {
    throw fail(
      "bad-header",
      `${count} entries cannot fit in a central directory of ${cdSize} bytes`,
    );
  }
  const cd = cdOffset + cdSize <= tailStart
    ? (await _readAt(file, cdOffset, cdSize))!
    : tail.subarray(cdOffset - tailStart, cdOffset - tailStart + cdSize);
  const view = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const pending: Omit<ZipEntry, "dataOffset">[] = [];
  let pos = 0;
  for (let index = 0; index < count; index++) {
    if (pos + _CENTRAL_BYTES > cdSize || view.getUint32(pos, true) !== _CENTRAL_SIG) {
      throw fail("bad-header", `central directory entry ${index} is missing or corrupt`);
    }
    const versionMadeBy = view.getUint16(pos + 4, true);
    const flags = view.getUint16(pos + 8, true);
    const method = view.getUint16(pos + 10, true);
    const crc = view.getUint32(pos + 16, true);
    const compressedSize = view.getUint32(pos + 20, true);
    const uncompressedSize = view.getUint32(pos + 24, true);
    const nameLength = view.getUint16(pos + 28, true);
    const extraLength = view.getUint16(pos + 30, true);
    const commentLength = view.getUint16(pos + 32, true);
    const entryDisk = view.getUint16(pos + 34, true);
    const externalAttributes = view.getUint32(pos + 38, true);
    const localHeaderOffset = view.getUint32(pos + 42, true);
    const end = pos + _CENTRAL_BYTES + nameLength + extraLength + commentLength;
    if (end > cdSize) {
      throw fail("bad-header", `central directory entry ${index} runs past the directory`);
    }
    const rawName = cd.slice(pos + _CENTRAL_BYTES, pos + _CENTRAL_BYTES + nameLength);
    let name: string;
    let nameIsUtf8 = true;
    try {
      name = _utf8.decode(rawName);
    } catch {
      name = _utf8Lossy.decode(rawName);
      nameIsUtf8 = false;
    }
    if (
      compressedSize === _U32_MAX || uncompressedSize === _U32_MAX ||
      localHeaderOffset === _U32_MAX || entryDisk === _U16_MAX
    ) {
      throw fail("zip64", "zip64 entries are not supported", name);
    }
    if (entryDisk !== 0) throw fail("multi-disk", "it lies on another disk", name);
    if ((flags & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION)) !== 0) {
      throw fail("encrypted", "encrypted entries are not supported", name);
    }
    if (method !== 0 && method !== 8) {
      throw fail(
        "unsupported-method",
        `compression method ${method} is not supported (only 0, stored, and 8, deflate)`,
        name,
      );
    }
    if (method === 0 && compressedSize !== uncompressedSize) {
      throw fail(
        "size-mismatch",
        `it is stored uncompressed but declares ${compressedSize} stored and ${uncompressedSize} unpacked bytes`,
        name,
      );
    }
    const isDirectory = rawName.length > 0 && rawName[rawName.length - 1] === 0x2f;
    if (isDirectory && uncompressedSize !== 0) {
      throw fail("size-mismatch", "a directory entry must be empty", name);
    }
    pending.push({
      index,
      rawName,
      name,
      nameIsUtf8,
      isDirectory,
      flags,
      method,
      crc32: crc,
      compressedSize,
      uncompressedSize,
      versionMadeBy,
      externalAttributes,
      localHeaderOffset,
    });
    pos = end;
  }
  if (pos !== cdSize) {
    throw fail(
      "bad-header",
      `the central directory has ${cdSize - pos} bytes after its ${count} entries`,
    );
  }
  return await _readLocalHeaders(file, display, pending, cdOffset);
}

/** Reads every local header (in file order), fixes each entry's data offset, checks overlaps. */
async function _readLocalHeaders(
  file: Deno.FsFile,
  display: string,
  pending: readonly Omit<ZipEntry, "dataOffset">[],
  cdOffset: number,
): Promise<ZipEntry[]> {
  const fail = (problem: ZipProblem, detail: string, entry: string) =>
    new ZipStructureError(display, problem, detail, { entry });
  const byOffset = [...pending].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  const out: ZipEntry[] = new Array(pending.length);
  let previousEnd = 0;
  let previousName = "";
  for (const e of byOffset) {
    if (e.localHeaderOffset < previousEnd) {
      throw fail(
        "bad-offset",
        `its local header at ${e.localHeaderOffset} overlaps entry "${previousName}"`,
        e.name,
      );
    }
    if (e.localHeaderOffset + _LOCAL_BYTES > cdOffset) {
      throw fail(
        "bad-offset",
        `its local header offset ${e.localHeaderOffset} is outside the entries' area (central directory at ${cdOffset})`,
        e.name,
      );
    }
    const header = await _readAt(file, e.localHeaderOffset, _LOCAL_BYTES);
    if (header === undefined) throw fail("truncated", "the file ends inside its header", e.name);
    const v = new DataView(header.buffer);
    if (v.getUint32(0, true) !== _LOCAL_SIG) {
      throw fail(
        "bad-header",
        `no local file header at offset ${e.localHeaderOffset}`,
        e.name,
      );
    }
    const flags = v.getUint16(6, true);
    const method = v.getUint16(8, true);
    if (method !== e.method || ((flags ^ e.flags) & _FLAG_ENCRYPTED) !== 0) {
      throw fail(
        "bad-header",
        `its local header disagrees with the central directory (method ${method} vs ${e.method})`,
        e.name,
      );
    }
    if ((flags & _FLAG_DATA_DESCRIPTOR) === 0) {
      const localCompressed = v.getUint32(18, true);
      const localUncompressed = v.getUint32(22, true);
      if (localCompressed !== e.compressedSize || localUncompressed !== e.uncompressedSize) {
        throw fail(
          "size-mismatch",
          `its local header declares ${localCompressed}/${localUncompressed} bytes but the central directory ${e.compressedSize}/${e.uncompressedSize}`,
          e.name,
        );
      }
    }
    const dataOffset = e.localHeaderOffset + _LOCAL_BYTES + v.getUint16(26, true) +
      v.getUint16(28, true);
    const dataEnd = dataOffset + e.compressedSize;
    if (dataEnd > cdOffset) {
      throw fail(
        "bad-offset",
        `its data (offset ${dataOffset}, ${e.compressedSize} bytes) runs into the central directory at ${cdOffset}`,
        e.name,
      );
    }
    out[e.index] = { ...e, dataOffset };
    previousEnd = dataEnd;
    previousName = e.name;
  }
  return out;
}

function _hex32(n: number): string {
  return n.toString(16).padStart(8, "0");
}

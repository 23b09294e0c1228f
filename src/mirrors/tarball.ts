/**
 * Tar and gzip: a safe streaming tar reader (ustar, pax and GNU long names) and a deterministic
 * tar.gz packer (sorted entries, fixed mtime/uid/gid/owner names, modes 0644/0755, fixed gzip
 * header), so the same tree always packs to the same bytes and SHA-256.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { UnsafeArchiveError } from "./module_source_errors.ts";
import { DEFAULT_TREE_LIMITS, isInside, SafeExtractor, type TreeLimits } from "./safe_extract.ts";

const BLOCK = 512;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads exact byte counts from a stream. */
class ByteReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  #done = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  async #fill(n: number): Promise<boolean> {
    while (this.#buf.byteLength < n && !this.#done) {
      const { value, done } = await this.#reader.read();
      if (done) {
        this.#done = true;
        break;
      }
      if (this.#buf.byteLength === 0) {
        this.#buf = value;
      } else {
        const merged = new Uint8Array(this.#buf.byteLength + value.byteLength);
        merged.set(this.#buf);
        merged.set(value, this.#buf.byteLength);
        this.#buf = merged;
      }
    }
    return this.#buf.byteLength >= n;
  }

  /** Exactly `n` bytes, or `undefined` at a clean end of stream. */
  async read(n: number): Promise<Uint8Array | undefined> {
    if (!(await this.#fill(n))) {
      if (this.#buf.byteLength === 0) return undefined;
      throw new UnsafeArchiveError("(archive)", "the tar stream is truncated");
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** A stream of the next `n` bytes (must be fully consumed before the next read). */
  body(n: number): ReadableStream<Uint8Array> {
    let left = n;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (left === 0) {
          controller.close();
          return;
        }
        if (this.#buf.byteLength === 0 && !(await this.#fill(1))) {
          controller.error(new UnsafeArchiveError("(archive)", "the tar stream is truncated"));
          return;
        }
        const take = Math.min(left, this.#buf.byteLength);
        controller.enqueue(this.#buf.slice(0, take));
        this.#buf = this.#buf.subarray(take);
        left -= take;
      },
    });
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.body(n)) { /* discard */ }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

function field(block: Uint8Array, offset: number, length: number): string {
  const bytes = block.subarray(offset, offset + length);
  const nul = bytes.indexOf(0);
  return decoder.decode(nul === -1 ? bytes : bytes.subarray(0, nul));
}

function octal(block: Uint8Array, offset: number, length: number, name: string): number {
  const first = block[offset] ?? 0;
  if ((first & 0x80) !== 0) {
    throw new UnsafeArchiveError(name, "base-256 numeric fields (huge sizes) are not supported");
  }
  const text = field(block, offset, length).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new UnsafeArchiveError(name, `bad numeric field "${text}"`);
  return parseInt(text, 8);
}

function checksumOk(block: Uint8Array): boolean {
  const stored = parseInt(field(block, 148, 8).trim() || "-1", 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i] ?? 0;
  return stored === sum;
}

function parsePax(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.byteLength) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const len = Number(decoder.decode(data.subarray(pos, space)));
    if (!Number.isInteger(len) || len <= 0 || pos + len > data.byteLength) break;
    const record = decoder.decode(data.subarray(space + 1, pos + len - 1));
    const eq = record.indexOf("=");
    if (eq !== -1) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;

/**
 * Extracts a (decompressed) tar stream into `dest` through a {@linkcode SafeExtractor}.
 *
 * @param stream The tar bytes.
 * @param dest Existing empty directory.
 * @param limits Bounds on the extracted tree.
 * @throws {UnsafeArchiveError} for unsafe, malformed or oversize archives (the caller removes `dest`).
 */
export async function extractTar(
  stream: ReadableStream<Uint8Array>,
  dest: string,
  limits: TreeLimits = DEFAULT_TREE_LIMITS,
): Promise<void> {
  const reader = new ByteReader(stream);
  const out = new SafeExtractor(dest, limits);
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  try {
    while (true) {
      const block = await reader.read(BLOCK);
      if (block === undefined || block.every((b) => b === 0)) break;
      if (!checksumOk(block)) throw new UnsafeArchiveError("(archive)", "bad tar header checksum");
      const rawName = field(block, 0, 100);
      const type = String.fromCharCode(block[156] ?? 0);
      let size = octal(block, 124, 12, rawName);
      const magic = field(block, 257, 6);
      const prefix = magic.startsWith("ustar") ? field(block, 345, 155) : "";
      let name = longName ?? pax.path ?? (prefix === "" ? rawName : `${prefix}/${rawName}`);
      const link = longLink ?? pax.linkpath ?? field(block, 157, 100);
      if (pax.size !== undefined) size = Number(pax.size);
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new UnsafeArchiveError(name, "bad entry size");
      }
      if (type === "x" || type === "g" || type === "L" || type === "K") {
        if (size > 1024 * 1024) throw new UnsafeArchiveError(name, "oversize metadata entry");
        const data = size === 0 ? new Uint8Array(0) : await reader.read(size);
        if (data === undefined) throw new UnsafeArchiveError(name, "the tar stream is truncated");
        await reader.skip(padding(size));
        if (type === "x") pax = parsePax(data);
        if (type === "L") longName = field(data, 0, data.byteLength);
        if (type === "K") longLink = field(data, 0, data.byteLength);
        continue;
      }
      pax = {};
      longName = undefined;
      longLink = undefined;
      const mode = octal(block, 100, 8, name);
      if (type === "0" || type === "\0" || type === "7") {
        await out.file(name, reader.body(size), (mode & 0o111) !== 0);
      } else if (type === "5") {
        await out.directory(name);
        await reader.skip(size);
      } else if (type === "2") {
        await out.symlink(name, link);
        await reader.skip(size);
      } else if (type === "1") {
        await out.hardlink(name, link);
        await reader.skip(size);
      } else {
        name = name || "(unnamed)";
        throw new UnsafeArchiveError(name, `unsupported tar entry type "${type}"`);
      }
      await reader.skip(padding(size));
    }
    await out.finish();
  } finally {
    await reader.cancel();
  }
}

/** One entry of a packed tree. */
interface PackEntry {
  rel: string;
  type: "dir" | "file";
  abs: string;
  executable: boolean;
  size: number;
}

/** Options for {@linkcode packDirectory}. */
export interface PackOptions {
  /** Bounds on the packed tree. */
  limits?: TreeLimits;
  /** Leaves out an entry (and everything under it) when it returns true for its relative path. */
  exclude?: (rel: string, name: string) => boolean;
}

/** What {@linkcode packDirectory} wrote. */
export interface PackResult {
  /** Number of tar entries. */
  entries: number;
  /** Sum of regular-file sizes. */
  bytes: number;
}

async function collect(root: string, options: PackOptions): Promise<PackEntry[]> {
  const limits = options.limits ?? DEFAULT_TREE_LIMITS;
  const rootReal = await Deno.realPath(root);
  const entries: PackEntry[] = [];
  let total = 0;
  const walk = async (abs: string, rel: string, stack: string[]): Promise<void> => {
    const names: string[] = [];
    for await (const e of Deno.readDir(abs)) names.push(e.name);
    names.sort();
    for (const name of names) {
      const childRel = rel === "" ? name : `${rel}/${name}`;
      if (options.exclude?.(childRel, name) === true) continue;
      let childAbs = join(abs, name);
      let info = await Deno.lstat(childAbs);
      if (info.isSymlink) {
        // Links are materialised: Terraform's unpacker refuses links with "..".
        let real: string;
        try {
          real = await Deno.realPath(childAbs);
        } catch {
          continue; // dangling or looping link: nothing to ship
        }
        if (!isInside(rootReal, real)) {
          throw new UnsafeArchiveError(childRel, "the symlink resolves outside the module tree");
        }
        childAbs = real;
        info = await Deno.stat(real);
      }
      if (entries.length >= limits.maxEntries) {
        throw new UnsafeArchiveError(childRel, `more than ${limits.maxEntries} entries`);
      }
      if (info.isDirectory) {
        const real = await Deno.realPath(childAbs);
        if (stack.includes(real)) {
          throw new UnsafeArchiveError(childRel, "a symlink creates a directory cycle");
        }
        entries.push({ rel: childRel, type: "dir", abs: childAbs, executable: true, size: 0 });
        await walk(childAbs, childRel, [...stack, real]);
      } else if (info.isFile) {
        if (info.size > limits.maxFileBytes) {
          throw new UnsafeArchiveError(childRel, `larger than ${limits.maxFileBytes} bytes`);
        }
        total += info.size;
        if (total > limits.maxTotalBytes) {
          throw new UnsafeArchiveError(childRel, `the tree exceeds ${limits.maxTotalBytes} bytes`);
        }
        const executable = ((info.mode ?? 0o644) & 0o111) !== 0;
        entries.push({ rel: childRel, type: "file", abs: childAbs, executable, size: info.size });
      }
      // Sockets, FIFOs and devices are never shipped.
    }
  };
  await walk(resolve(root), "", [rootReal]);
  entries.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return entries;
}

function writeString(block: Uint8Array, offset: number, length: number, value: string): void {
  block.set(encoder.encode(value).subarray(0, length), offset);
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  writeString(block, offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
}

function header(
  name: string,
  type: "0" | "5" | "x",
  mode: number,
  size: number,
): Uint8Array<ArrayBuffer> {
  const block = new Uint8Array(BLOCK);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, mode);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, 0); // mtime: the epoch, always
  block.fill(32, 148, 156);
  writeString(block, 156, 1, type);
  writeString(block, 257, 6, "ustar\0");
  writeString(block, 263, 2, "00");
  writeString(block, 265, 32, "root");
  writeString(block, 297, 32, "root");
  let sum = 0;
  for (const b of block) sum += b;
  writeString(block, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return block;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = encoder.encode(body).byteLength;
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return `${len}${body}`;
}

async function* tarChunks(entries: PackEntry[]): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  for (const entry of entries) {
    const name = entry.type === "dir" ? `${entry.rel}/` : entry.rel;
    const type = entry.type === "dir" ? "5" : "0";
    const mode = entry.type === "dir" || entry.executable ? 0o755 : 0o644;
    let shortName = name;
    if (encoder.encode(name).byteLength > 100) {
      const pax = encoder.encode(paxRecord("path", name));
      yield header("././@PaxHeader", "x", 0o644, pax.byteLength);
      yield pax;
      yield new Uint8Array(padding(pax.byteLength));
      shortName = name.slice(0, 99);
    }
    yield header(shortName, type, mode, entry.size);
    if (entry.type === "file") {
      using file = await Deno.open(entry.abs);
      let seen = 0;
      for await (const chunk of file.readable) {
        seen += chunk.byteLength;
        if (seen > entry.size) break;
        yield chunk;
      }
      if (seen !== entry.size) {
        throw new UnsafeArchiveError(entry.rel, "the file changed while it was being packed");
      }
      yield new Uint8Array(padding(entry.size));
    }
  }
  yield new Uint8Array(BLOCK * 2);
}

/** Rewrites the gzip header's MTIME to 0 and OS to 255 ("unknown") for byte-stable output. */
function fixedGzipHeader(): TransformStream<Uint8Array, Uint8Array> {
  let pending = new Uint8Array(0);
  let patched = false;
  return new TransformStream({
    transform(chunk, controller) {
      if (patched) {
        controller.enqueue(chunk);
        return;
      }
      const merged = new Uint8Array(pending.byteLength + chunk.byteLength);
      merged.set(pending);
      merged.set(chunk, pending.byteLength);
      if (merged.byteLength < 10) {
        pending = merged;
        return;
      }
      merged.fill(0, 4, 8);
      merged[9] = 255;
      patched = true;
      controller.enqueue(merged);
    },
    flush(controller) {
      if (!patched && pending.byteLength > 0) controller.enqueue(pending);
    },
  });
}

/**
 * Packs a directory into a deterministic tar.gz file: entries sorted by path, directories as
 * `name/` with mode 0755, files 0644 (0755 when any execute bit is set), uid/gid 0, owner
 * `root`, mtime 0, symlinks inside the tree materialised as the files/directories they point to
 * (links leaving the tree are refused), and a gzip header with MTIME 0 and OS 255.
 *
 * @param dir Directory to pack (its contents, not itself).
 * @param outFile Path of the tar.gz to write (created or truncated).
 * @param options Limits and exclusions.
 * @returns Entry and byte counts.
 * @throws {UnsafeArchiveError} for escaping symlinks, cycles or broken limits.
 */
export async function packDirectory(
  dir: string,
  outFile: string,
  options: PackOptions = {},
): Promise<PackResult> {
  const entries = await collect(dir, options);
  const file = await Deno.open(outFile, { write: true, create: true, truncate: true });
  await ReadableStream.from(tarChunks(entries))
    .pipeThrough(new CompressionStream("gzip"))
    .pipeThrough(fixedGzipHeader())
    .pipeTo(file.writable);
  return {
    entries: entries.length,
    bytes: entries.reduce((n, e) => n + e.size, 0),
  };
}

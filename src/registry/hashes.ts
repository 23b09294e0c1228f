/**
 * Provider package hashes, as terraform records them in `.terraform.lock.hcl`:
 *
 * - `zh:` — lower-case hex SHA-256 of the `.zip` file bytes (legacy, archives only);
 * - `h1:` — Go's `dirhash.Hash1` over the package's files: each file contributes the line
 *   `<sha256 hex>  <name>\n`, lines sorted by name (bytewise), and the hash is
 *   `h1:` + base64 (standard, padded) of the SHA-256 of those lines.
 *
 * `h1:` is computed from a zip's entries without unpacking it (the strict reader of
 * `zip_reader.ts`, memory bounded), or from an unpacked directory. Rules (reference-providercache §2.3):
 * - directory form: the root's symlinks are resolved; the walk does not follow symlinks, but a
 *   symlinked file is hashed by its target's content (a symlink to a directory is an error);
 *   directories (empty ones included) contribute nothing; file modes and mtimes are ignored;
 * - zip form: every entry name exactly as stored (raw bytes), directory entries included with
 *   empty content (x/mod's quirk), so a zip with explicit `dir/` entries hashes differently from
 *   its extracted directory;
 * - a name containing `\n` is an error.
 *
 * Files are read into a reused 1 MiB buffer and hashed with `node:crypto`.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { join } from "node:path";
import { HashFormatError } from "./errors.ts";
import { ZipArchive, type ZipEntry } from "./zip_reader.ts";

/** The `h1:` scheme (dirhash Hash1). */
export const HASH_SCHEME_V1 = "h1:";
/** The `zh:` scheme (SHA-256 of the zip file). */
export const HASH_SCHEME_ZIP = "zh:";

const _CHUNK = 1024 * 1024;
const _encoder = new TextEncoder();

/** A parsed hash string. */
export interface ParsedHash {
  /** The scheme including its colon, e.g. `h1:`. */
  readonly scheme: string;
  /** Everything after the scheme. */
  readonly value: string;
}

/**
 * Splits a hash string into scheme and value. Unknown schemes are accepted (and kept), the value
 * is not validated, as terraform's `ParseHash`.
 *
 * @param hash e.g. `h1:qjsREM4D…`.
 * @returns Scheme and value.
 * @throws {HashFormatError} when there is no scheme (no colon after at least one character).
 */
export function parseHash(hash: string): ParsedHash {
  const colon = hash.indexOf(":");
  if (colon < 1) {
    throw new HashFormatError(
      hash,
      "hash string must start with a scheme keyword followed by a colon",
    );
  }
  return { scheme: hash.slice(0, colon + 1), value: hash.slice(colon + 1) };
}

/**
 * The scheme of a hash string.
 *
 * @param hash e.g. `zh:299d…`.
 * @returns The scheme including its colon, e.g. `zh:`.
 * @throws {HashFormatError} when there is no scheme.
 */
export function hashScheme(hash: string): string {
  return parseHash(hash).scheme;
}

/**
 * Keeps the hashes this tool can check (`h1:` and `zh:`), in order.
 *
 * @param hashes Any hash strings.
 * @returns The `h1:` and `zh:` ones.
 */
export function preferredHashes(hashes: readonly string[]): string[] {
  return hashes.filter((h) => h.startsWith(HASH_SCHEME_V1) || h.startsWith(HASH_SCHEME_ZIP));
}

/**
 * Lower-case hex SHA-256 of a file, read in 1 MiB chunks.
 *
 * @param path The file.
 * @returns 64 hex digits.
 */
export async function sha256File(path: string | URL): Promise<string> {
  using file = await Deno.open(path, { read: true });
  const hash = createHash("sha256");
  await _hashFile(file, hash);
  return hash.digest("hex");
}

/**
 * The `zh:` hash of a zip: the hex SHA-256 of its bytes (symlinks are followed).
 *
 * @param source Path of the zip, or its bytes.
 * @returns `zh:<hex>`.
 */
export async function zipHash(source: string | URL | Uint8Array): Promise<string> {
  if (source instanceof Uint8Array) {
    return HASH_SCHEME_ZIP + createHash("sha256").update(source).digest("hex");
  }
  return HASH_SCHEME_ZIP + await sha256File(source);
}

/**
 * The `h1:` hash of a provider zip, computed from its entries without unpacking to disk: the
 * strict {@linkcode ZipArchive} reader streams each entry (STORE read directly, DEFLATE inflated
 * natively) into SHA-256, checking its size and CRC-32 on the way.
 *
 * @param path Path of the zip.
 * @returns `h1:<base64>`.
 * @throws {ZipFormatError} when the file is not a readable zip (bad structure, CRC or size
 *   mismatch, zip64, unsupported compression or encryption); a {@linkcode ZipStructureError}
 *   says which rule it broke.
 */
export async function packageHashV1FromZip(path: string | URL): Promise<string> {
  using zip = await ZipArchive.open(path);
  // Go maps each name to its last entry; duplicates therefore hash the last one's content.
  const byName = new Map<string, ZipEntry>();
  for (const entry of zip.entries) byName.set(_latin1Key(entry.rawName), entry);
  const digests = new Map<string, string>();
  const lines: Uint8Array[] = [];
  for (const raw of _sortBytes(zip.entries.map((e) => e.rawName))) {
    if (raw.includes(0x0a)) throw _newlineError(zip.displayName);
    const key = _latin1Key(raw);
    let hex = digests.get(key);
    if (hex === undefined) {
      const entry = byName.get(key)!;
      const hash = createHash("sha256");
      // Directory entries are hashed too (x/mod's quirk); the reader insists they are empty.
      await zip.read(entry, (chunk) => {
        hash.update(chunk);
      });
      hex = hash.digest("hex");
      digests.set(key, hex);
    }
    lines.push(_summaryLine(hex, raw));
  }
  return _finishHash1(lines);
}

/**
 * The `h1:` hash of files whose SHA-256 digests are already known (for example, computed while
 * the files were written).
 *
 * @param files Each file's `/`-separated relative name (a string, or its raw bytes) and the
 *   lower-case hex SHA-256 of its content. Names must be unique.
 * @returns `h1:<base64>`.
 * @throws {TypeError} when a name contains a newline.
 */
export function packageHashV1FromDigests(
  files: Iterable<readonly [name: string | Uint8Array, sha256Hex: string]>,
): string {
  const byName = new Map<string, { raw: Uint8Array; hex: string }>();
  for (const [name, hex] of files) {
    const raw = typeof name === "string" ? _encoder.encode(name) : name;
    byName.set(_latin1Key(raw), { raw, hex });
  }
  const lines: Uint8Array[] = [];
  for (const raw of _sortBytes([...byName.values()].map((f) => f.raw))) {
    if (raw.includes(0x0a)) throw _newlineError("<digests>");
    lines.push(_summaryLine(byName.get(_latin1Key(raw))!.hex, raw));
  }
  return _finishHash1(lines);
}

/**
 * The `h1:` hash of an unpacked provider directory.
 *
 * @param dir The package directory (symlinks on the root are resolved first).
 * @returns `h1:<base64>`.
 * @throws {Deno.errors.NotFound} when the directory does not exist.
 * @throws {TypeError} when `dir` is not a directory, a file name contains a newline, or a
 *   symlink inside the package points to a directory.
 */
export async function packageHashV1FromDir(dir: string | URL): Promise<string> {
  const root = await Deno.realPath(dir);
  const info = await Deno.stat(root);
  if (!info.isDirectory) throw new TypeError(`Path "${root}" is not a directory`);
  const files: string[] = [];
  await _walk(root, "", files);
  const names = files.map((f) => _encoder.encode(f));
  const lines: Uint8Array[] = [];
  for (const raw of _sortBytes(names)) {
    if (raw.includes(0x0a)) throw _newlineError(root);
    const rel = new TextDecoder().decode(raw);
    const full = join(root, ...rel.split("/"));
    const stat = await Deno.stat(full);
    if (stat.isDirectory) {
      throw new TypeError(
        `Cannot hash "${rel}" in "${root}": it is a symlink to a directory, which a provider package must not contain`,
      );
    }
    lines.push(_summaryLine(await sha256File(full), raw));
  }
  return _finishHash1(lines);
}

/** Where a package lives: an unpacked directory or a zip archive. */
export type PackageKind = "dir" | "zip";

/**
 * Whether a package matches one hash (strict: unusable hashes are errors), as terraform's
 * `PackageMatchesHash`.
 *
 * @param path The package: a directory or a zip file.
 * @param want The hash, `h1:` or `zh:`.
 * @returns True when the package has that hash.
 * @throws {HashFormatError} for an unknown scheme, or `zh:` against a directory.
 * @throws {ZipFormatError} when a zip cannot be read.
 */
export async function matchesHash(path: string | URL, want: string): Promise<boolean> {
  const scheme = hashScheme(want);
  const kind = await _kind(path);
  if (scheme === HASH_SCHEME_V1) {
    return (kind === "dir"
      ? await packageHashV1FromDir(path)
      : await packageHashV1FromZip(path)) ===
      want;
  }
  if (scheme === HASH_SCHEME_ZIP) {
    if (kind === "dir") {
      throw new HashFormatError(
        want,
        `ziphash scheme ("zh:" prefix) is not supported for unpacked provider packages`,
      );
    }
    return await zipHash(path) === want;
  }
  throw new HashFormatError(want, "unsupported hash format (this may require a newer tfcache)");
}

/**
 * The allowed hashes that match a package, in the list's order (lenient: unknown schemes and
 * `zh:` against a directory never match). Each digest is computed at most once.
 *
 * @param path The package: a directory or a zip file.
 * @param allowed Candidate hashes.
 * @returns The matching ones.
 * @throws {ZipFormatError} when a zip cannot be read (I/O errors propagate too).
 */
export async function matchingHashes(
  path: string | URL,
  allowed: readonly string[],
): Promise<string[]> {
  if (allowed.length === 0) return [];
  const kind = await _kind(path);
  let h1: string | undefined;
  let zh: string | undefined;
  const out: string[] = [];
  for (const want of allowed) {
    if (want.startsWith(HASH_SCHEME_V1)) {
      h1 ??= kind === "dir" ? await packageHashV1FromDir(path) : await packageHashV1FromZip(path);
      if (h1 === want) out.push(want);
    } else if (want.startsWith(HASH_SCHEME_ZIP) && kind === "zip") {
      zh ??= await zipHash(path);
      if (zh === want) out.push(want);
    }
  }
  return out;
}

/**
 * Whether any allowed hash matches a package (lenient, see {@linkcode matchingHashes}).
 *
 * @param path The package: a directory or a zip file.
 * @param allowed Candidate hashes; an empty list never matches.
 * @returns True when at least one matches.
 */
export async function matchesAnyHash(
  path: string | URL,
  allowed: readonly string[],
): Promise<boolean> {
  return (await matchingHashes(path, allowed)).length > 0;
}

/**
 * The `h1:` hash of in-memory files (name → content), for tests and generated packages.
 *
 * @param files `/`-separated relative names and their contents.
 * @returns `h1:<base64>`.
 */
export function packageHashV1FromFiles(files: ReadonlyMap<string, Uint8Array>): string {
  const lines: Uint8Array[] = [];
  for (const raw of _sortBytes([...files.keys()].map((n) => _encoder.encode(n)))) {
    if (raw.includes(0x0a)) throw _newlineError("<memory>");
    const content = files.get(new TextDecoder().decode(raw))!;
    lines.push(_summaryLine(createHash("sha256").update(content).digest("hex"), raw));
  }
  return _finishHash1(lines);
}

async function _kind(path: string | URL): Promise<PackageKind> {
  return (await Deno.stat(path)).isDirectory ? "dir" : "zip";
}

async function _walk(abs: string, rel: string, out: string[]): Promise<void> {
  for await (const entry of Deno.readDir(abs)) {
    const childRel = rel === "" ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory) {
      await _walk(join(abs, entry.name), childRel, out);
    } else {
      out.push(childRel);
    }
  }
}

async function _hashFile(file: Deno.FsFile, hash: Hash): Promise<void> {
  const buf = new Uint8Array(_CHUNK);
  while (true) {
    const n = await file.read(buf);
    if (n === null) break;
    hash.update(buf.subarray(0, n));
  }
}

function _summaryLine(hex: string, rawName: Uint8Array): Uint8Array {
  const head = _encoder.encode(`${hex}  `);
  const line = new Uint8Array(head.length + rawName.length + 1);
  line.set(head, 0);
  line.set(rawName, head.length);
  line[line.length - 1] = 0x0a;
  return line;
}

function _finishHash1(lines: readonly Uint8Array[]): string {
  const hash = createHash("sha256");
  for (const line of lines) hash.update(line);
  return HASH_SCHEME_V1 + hash.digest("base64");
}

function _compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

function _sortBytes(names: Uint8Array[]): Uint8Array[] {
  return [...names].sort(_compareBytes);
}

function _latin1Key(raw: Uint8Array): string {
  let s = "";
  for (const b of raw) s += String.fromCharCode(b);
  return s;
}

function _newlineError(where: string): TypeError {
  return new TypeError(`Cannot hash "${where}": file names with newlines are not supported`);
}

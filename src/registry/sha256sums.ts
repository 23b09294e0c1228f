/**
 * SHA256SUMS documents: `<64 hex>  <filename>` lines as written by `sha256sum` / GoReleaser.
 *
 * Accepted line forms (the separator after the digest):
 * - two spaces (`sha256sum` text mode, the usual form),
 * - one space (some hand-made files),
 * - space + `*` (`sha256sum --binary`; the `*` is not part of the name).
 *
 * Blank lines (and a trailing `\r`) are ignored. Anything else is rejected with its line number,
 * as are two entries for one file name with different digests. This is stricter than terraform,
 * which silently treats a malformed document as "not a checksums file"; a signed document that
 * does not parse is a publishing error the user should hear about.
 *
 * @module
 */

import { ChecksumsFormatError } from "./errors.ts";

/** One line of a SHA256SUMS document. */
export interface ChecksumEntry {
  /** Lower-case hex SHA-256. */
  readonly sha256: string;
  /** File name exactly as written (without a binary-mode `*`). */
  readonly filename: string;
  /** 1-based line number in the document. */
  readonly line: number;
  /** Whether the line used the `*` (binary mode) marker. */
  readonly binary: boolean;
}

/** A parsed SHA256SUMS document. */
export class Sha256Sums {
  /** Every entry in document order (identical duplicates kept once). */
  readonly entries: readonly ChecksumEntry[];
  readonly #byName: ReadonlyMap<string, ChecksumEntry>;

  /**
   * @param entries The entries, already validated (see {@linkcode parseSha256Sums}).
   */
  constructor(entries: readonly ChecksumEntry[]) {
    this.entries = entries;
    this.#byName = new Map(entries.map((e) => [e.filename, e]));
  }

  /**
   * Looks up the digest of a file name (exact, case-sensitive match).
   *
   * @param filename The file name, e.g. `terraform-provider-aws_5.31.0_linux_amd64.zip`.
   * @returns The lower-case hex SHA-256, or `undefined` when the document has no such line.
   */
  get(filename: string): string | undefined {
    return this.#byName.get(filename)?.sha256;
  }

  /**
   * Whether the document lists a file name.
   *
   * @param filename The file name.
   * @returns True when there is a line for it.
   */
  has(filename: string): boolean {
    return this.#byName.has(filename);
  }

  /**
   * Every digest as a `zh:` hash, in document order, without duplicates. Like terraform this
   * includes every line (e.g. a `_manifest.json` entry), which is what terraform records in the
   * lock file for a signed package.
   *
   * @returns `zh:<hex>` strings.
   */
  zhHashes(): string[] {
    return [...new Set(this.entries.map((e) => `zh:${e.sha256}`))];
  }
}

const _LINE = /^([0-9A-Fa-f]{64}) ([ *]?)(.*)$/;

/**
 * Parses a SHA256SUMS document.
 *
 * @param document The document text or bytes (UTF-8).
 * @param source Name of the document for error messages (default `SHA256SUMS`).
 * @returns The parsed document.
 * @throws {ChecksumsFormatError} naming the first malformed line.
 * @example
 * ```ts
 * import { parseSha256Sums } from "./sha256sums.ts";
 * const hex = "22db2f0c70b50cff42afd4878fea9f6848a63f1b6532bd8b64b899f574acb35d";
 * const sums = parseSha256Sums(`${hex}  sample_0.1.0_darwin_amd64.zip\n`);
 * console.assert(sums.get("sample_0.1.0_darwin_amd64.zip") === hex);
 * console.assert(sums.zhHashes()[0] === `zh:${hex}`);
 * ```
 */
export function parseSha256Sums(
  document: string | Uint8Array,
  source = "SHA256SUMS",
): Sha256Sums {
  const text = typeof document === "string"
    ? document
    : new TextDecoder("utf-8", { fatal: false }).decode(document);
  const entries: ChecksumEntry[] = [];
  const seen = new Map<string, ChecksumEntry>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.trim() === "") continue;
    const m = _LINE.exec(line);
    if (m === null) {
      throw new ChecksumsFormatError(
        source,
        lineNo,
        `is not "<sha256 hex>  <filename>": "${_preview(line)}"`,
      );
    }
    const sha256 = m[1]!.toLowerCase();
    const binary = m[2] === "*";
    const filename = m[3]!;
    if (filename === "" || filename.trim() !== filename) {
      throw new ChecksumsFormatError(
        source,
        lineNo,
        `has an empty or space-padded file name: "${_preview(line)}"`,
      );
    }
    const prior = seen.get(filename);
    if (prior !== undefined) {
      if (prior.sha256 !== sha256) {
        throw new ChecksumsFormatError(
          source,
          lineNo,
          `lists "${filename}" again with a different digest (first on line ${prior.line})`,
        );
      }
      continue;
    }
    const entry: ChecksumEntry = { sha256, filename, line: lineNo, binary };
    seen.set(filename, entry);
    entries.push(entry);
  }
  return new Sha256Sums(entries);
}

function _preview(line: string): string {
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/**
 * Provider package hash strings (`scheme:value`), as recorded in lock files.
 *
 * @module
 */

/** The `h1:` scheme: dirhash "Hash1" of the unpacked package. */
export const HASH_SCHEME_1 = "h1:";
/** The legacy `zh:` scheme: SHA-256 hex of the `.zip` file. */
export const HASH_SCHEME_ZIP = "zh:";

/** A hash string split into its scheme (including the colon) and value. */
export interface ParsedHash {
  /** Everything up to and including the first colon, e.g. `h1:`. */
  readonly scheme: string;
  /** Everything after the first colon (not validated). */
  readonly value: string;
}

/** A string that is not `scheme:value`. */
export class InvalidHashError extends TypeError {
  /** The rejected input. */
  readonly input: string;

  /**
   * @param input The rejected hash string.
   */
  constructor(input: string) {
    super("hash string must start with a scheme keyword followed by a colon");
    this.name = "InvalidHashError";
    this.input = input;
  }
}

/**
 * Parse a hash string. Like Terraform, only the shape is checked: a colon at index ≥ 1.
 * Unknown schemes are accepted and the value is not validated.
 *
 * @param s The hash string.
 * @returns Its scheme and value.
 * @throws {InvalidHashError} when there is no scheme.
 * @example
 * ```ts
 * parseHash("zh:abc"); // { scheme: "zh:", value: "abc" }
 * ```
 */
export function parseHash(s: string): ParsedHash {
  const colon = s.indexOf(":");
  if (colon < 1) throw new InvalidHashError(s);
  return { scheme: s.slice(0, colon + 1), value: s.slice(colon + 1) };
}

/**
 * Stricter check than Terraform's: `h1:` must carry base64 of 32 bytes and `zh:` 64
 * lower-case hex digits. Other schemes are accepted as they are.
 *
 * @param s The hash string.
 * @returns Whether it is well formed.
 */
export function isWellFormedHash(s: string): boolean {
  let parsed: ParsedHash;
  try {
    parsed = parseHash(s);
  } catch {
    return false;
  }
  if (parsed.scheme === HASH_SCHEME_1) return /^[A-Za-z0-9+/]{43}=$/.test(parsed.value);
  if (parsed.scheme === HASH_SCHEME_ZIP) return /^[0-9a-f]{64}$/.test(parsed.value);
  return true;
}

/**
 * @param s A hash string.
 * @returns Whether its scheme is one Terraform prefers (`h1:` or `zh:`).
 */
export function isPreferredHash(s: string): boolean {
  return s.startsWith(HASH_SCHEME_1) || s.startsWith(HASH_SCHEME_ZIP);
}

/**
 * Keep only `h1:` and `zh:` hashes, preserving order.
 *
 * @param hashes Hash strings.
 * @returns The preferred ones.
 */
export function preferredHashes(hashes: readonly string[]): string[] {
  return hashes.filter(isPreferredHash);
}

/**
 * Plain string order, as the lock file uses.
 *
 * @param a First hash.
 * @param b Second hash.
 * @returns Negative, zero or positive.
 */
export function compareHashes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Sort and de-duplicate hashes (the lock file's canonical order: all `h1:` before `zh:`).
 *
 * @param hashes Hash strings, in any order, possibly with duplicates.
 * @returns A new sorted, duplicate-free array.
 */
export function normalizeHashes(hashes: Iterable<string>): string[] {
  return [...new Set(hashes)].sort(compareHashes);
}

/**
 * Union of two hash lists, sorted and de-duplicated.
 *
 * @param a First list.
 * @param b Second list.
 * @returns The merged list.
 */
export function mergeHashes(a: Iterable<string>, b: Iterable<string>): string[] {
  return normalizeHashes([...a, ...b]);
}

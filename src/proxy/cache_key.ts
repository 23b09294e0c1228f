/**
 * Cache key and request path validation.
 *
 * A cache key is a `/`-separated relative path under the cache root. Keys that could leave the
 * root, that collide with the store's own files (`*.metadata.json`, `*.lock`, `.tmp-*`) or that
 * behave differently across operating systems are refused before any filesystem call.
 *
 * @module
 */

import { HttpError, InvalidKeyError } from "./errors.ts";

/** Longest accepted cache key, in characters. */
export const MAX_KEY_LENGTH = 1024;
/** Longest accepted key segment, in characters (a common filename limit). */
export const MAX_SEGMENT_LENGTH = 255;
/** Longest accepted raw request path (after the secret prefix), in characters. */
export const MAX_REQUEST_PATH_LENGTH = 2048;

/** Suffix of the JSON sidecar written next to every object. */
export const SIDECAR_SUFFIX = ".metadata.json";
/** Suffix of the per-key lock file. */
export const LOCK_SUFFIX = ".lock";
/** Prefix of staging files. */
export const TEMP_PREFIX = ".tmp-";

// C0 controls, DEL and C1 controls.
// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
const DRIVE_LETTER = /^[A-Za-z]:/;

/** Why a segment is refused, or `undefined` when it is acceptable. */
function segmentProblem(segment: string): string | undefined {
  if (segment === "") return "empty path segment";
  if (segment === "." || segment === "..") return `"${segment}" segment`;
  if (segment.length > MAX_SEGMENT_LENGTH) {
    return `segment longer than ${MAX_SEGMENT_LENGTH} characters`;
  }
  if (segment.startsWith(TEMP_PREFIX)) return `segment starts with reserved "${TEMP_PREFIX}"`;
  return undefined;
}

/** Why a decoded path is refused (shared by keys and request paths), or `undefined`. */
function pathProblem(path: string, maxLength: number): string | undefined {
  if (path.length === 0) return "empty key";
  if (path.length > maxLength) return `longer than ${maxLength} characters`;
  if (CONTROL_CHARS.test(path)) return "contains a control character";
  if (path.includes("\\")) return "contains a backslash";
  if (path.startsWith("/")) return "absolute path";
  if (DRIVE_LETTER.test(path)) return "starts with a drive letter";
  return undefined;
}

/**
 * Checks a cache key and returns it unchanged.
 *
 * @param key The candidate key, e.g. `providers/registry.terraform.io/hashicorp/aws/index.json`.
 * @returns The same key.
 * @throws {InvalidKeyError} When the key is empty, absolute, too long, contains `..`, `.` or
 * empty segments, backslashes, control characters, a drive letter, or a reserved name.
 * @example
 * ```ts
 * validateKey("modules/example/versions.json"); // ok
 * validateKey("../etc/passwd"); // throws InvalidKeyError
 * ```
 */
export function validateKey(key: string): string {
  const problem = pathProblem(key, MAX_KEY_LENGTH);
  if (problem) throw new InvalidKeyError(key, problem);
  for (const segment of key.split("/")) {
    const why = segmentProblem(segment);
    if (why) throw new InvalidKeyError(key, why);
  }
  if (key.endsWith(SIDECAR_SUFFIX)) {
    throw new InvalidKeyError(key, `ends with reserved "${SIDECAR_SUFFIX}"`);
  }
  if (key.endsWith(LOCK_SUFFIX)) {
    throw new InvalidKeyError(key, `ends with reserved "${LOCK_SUFFIX}"`);
  }
  return key;
}

/**
 * Whether {@linkcode validateKey} accepts `key`.
 *
 * @param key The candidate key.
 * @returns `true` when the key is valid.
 */
export function isValidKey(key: string): boolean {
  try {
    validateKey(key);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a file name in the cache root belongs to the store itself (sidecar, lock or temp).
 *
 * @param name A single file name (no directory part).
 * @returns `true` for `*.metadata.json`, `*.lock` and `.tmp-*` names.
 */
export function isReservedName(name: string): boolean {
  return name.endsWith(SIDECAR_SUFFIX) || name.endsWith(LOCK_SUFFIX) ||
    name.startsWith(TEMP_PREFIX);
}

/**
 * Decodes and checks the part of a request path after the cache's base path.
 *
 * Works on the raw (still percent-encoded, never normalised) path, so `..`, `%2e%2e`, encoded
 * slashes (`%2f`), encoded backslashes (`%5c`) and NUL (`%00`) are all refused instead of being
 * resolved. A single trailing slash is allowed; empty segments elsewhere are not.
 *
 * @param raw Raw path relative to the base, without a leading slash, e.g. `providers/a/b.json`.
 * @returns The decoded path.
 * @throws {HttpError} 400 with a message naming the problem.
 * @example
 * ```ts
 * decodeRequestPath("providers/example.com/a%20b/index.json"); // "providers/example.com/a b/index.json"
 * decodeRequestPath("providers/%2e%2e/secret"); // throws HttpError 400
 * ```
 */
export function decodeRequestPath(raw: string): string {
  const refuse = (reason: string): never => {
    const shown = raw.length > 120 ? `${raw.slice(0, 120)}…` : raw;
    throw new HttpError(400, `Cannot accept request path "${shown}": ${reason}`);
  };
  if (raw === "") return "";
  if (raw.length > MAX_REQUEST_PATH_LENGTH) {
    refuse(`longer than ${MAX_REQUEST_PATH_LENGTH} characters`);
  }
  if (/%(2f|5c)/i.test(raw)) refuse("contains an encoded slash or backslash");
  if (raw.startsWith("/")) refuse("absolute path");
  const body = raw.endsWith("/") ? raw.slice(0, -1) : raw;
  const decoded: string[] = [];
  for (const segment of body.split("/")) {
    let value: string;
    try {
      value = decodeURIComponent(segment);
    } catch {
      return refuse("malformed percent-encoding");
    }
    if (value === "") refuse("empty path segment");
    if (value === "." || value === "..") refuse(`"${value}" segment`);
    if (value.length > MAX_SEGMENT_LENGTH) {
      refuse(`segment longer than ${MAX_SEGMENT_LENGTH} characters`);
    }
    decoded.push(value);
  }
  const path = decoded.join("/") + (body === raw ? "" : "/");
  const problem = pathProblem(path, MAX_REQUEST_PATH_LENGTH);
  if (problem) refuse(problem);
  return path;
}

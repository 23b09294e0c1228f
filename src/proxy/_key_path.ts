/**
 * The on-disk form of cache keys and of the other cache-root paths built from registry hosts.
 *
 * Keys name hosts with their port (`providers/127.0.0.1:8443/…`), and Windows refuses `:` in file
 * names. When encoding is on, `%` becomes `%25` and then `:` becomes `%3A`: one-to-one, so every
 * on-disk name maps back to exactly one key, and `/` is left alone so a key's segments stay
 * directories. Keys themselves never change; only the names on disk do.
 *
 * @module
 */

/**
 * Whether on-disk names are encoded by default: on Windows only, so the caches on Linux and macOS
 * keep the layout they always had.
 */
export const DEFAULT_ENCODE_COLONS: boolean = Deno.build.os === "windows";

/**
 * The on-disk relative path of a key (or of any `/`-separated path built from hosts).
 *
 * @param key A cache key, e.g. `providers/127.0.0.1:8443/acme/thing/index.json`.
 * @returns The key with `%` as `%25` and `:` as `%3A`.
 * @example
 * ```ts
 * encodeKeyPath("discovery/127.0.0.1:8443.json"); // "discovery/127.0.0.1%3A8443.json"
 * encodeKeyPath("a/100%.txt"); // "a/100%25.txt"
 * ```
 */
export function encodeKeyPath(key: string): string {
  return key.replaceAll("%", "%25").replaceAll(":", "%3A");
}

const ENCODED = /%(25|3A)/g;

/**
 * The key an on-disk name (or relative path) stands for: the inverse of
 * {@linkcode encodeKeyPath}.
 *
 * @param name A name or `/`-separated relative path as found on disk.
 * @returns The key, or `undefined` when `name` is not the encoding of any key (a raw `:`, or a
 * `%` not followed by `25` or `3A`), so that listings skip it.
 * @example
 * ```ts
 * decodeKeyPath("discovery/127.0.0.1%3A8443.json"); // "discovery/127.0.0.1:8443.json"
 * decodeKeyPath("a/50%off"); // undefined
 * ```
 */
export function decodeKeyPath(name: string): string | undefined {
  if (name.includes(":")) return undefined;
  if (name.replace(ENCODED, "").includes("%")) return undefined;
  return name.replace(ENCODED, (_, code: string) => code === "25" ? "%" : ":");
}

/**
 * {@linkcode encodeKeyPath} when `encode`, else the key unchanged.
 *
 * @param key A cache key or `/`-separated relative path.
 * @param encode Whether the store encodes names (its `encodeColons`).
 * @returns The on-disk relative path.
 */
export function toDiskPath(key: string, encode: boolean): string {
  return encode ? encodeKeyPath(key) : key;
}

/**
 * {@linkcode decodeKeyPath} when `encode`, else the path unchanged.
 *
 * @param path An on-disk relative path.
 * @param encode Whether the store encodes names (its `encodeColons`).
 * @returns The key, or `undefined` when the name is not the encoding of any key.
 */
export function fromDiskPath(path: string, encode: boolean): string | undefined {
  return encode ? decodeKeyPath(path) : path;
}

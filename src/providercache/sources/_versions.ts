/**
 * The version list a source reports: parsed, invalid entries skipped, sorted.
 *
 * @module
 */

import { sortVersions, tryParseVersion, type Version } from "../../registry/version.ts";

/**
 * Parses version strings as terraform does for a source's version list: invalid ones are skipped
 * (reported to `onInvalid`), the rest sorted ascending.
 *
 * @param raw The version strings, as the registry or mirror listed them.
 * @param onInvalid Called with each string that is not a valid version.
 * @returns The valid versions, sorted.
 * @example Usage
 * ```ts
 * import { parseVersionList } from "./_versions.ts";
 * const versions = parseVersionList(["1.1.0", "bad", "1.0.0"]);
 * console.assert(versions.length === 2);
 * ```
 */
export function parseVersionList(
  raw: Iterable<string>,
  onInvalid: (raw: string) => void = () => {},
): Version[] {
  const versions: Version[] = [];
  for (const text of raw) {
    const version = tryParseVersion(text);
    if (version === undefined) onInvalid(text);
    else versions.push(version);
  }
  return sortVersions(versions);
}

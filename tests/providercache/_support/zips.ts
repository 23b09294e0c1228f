/**
 * Builds test zips with zip.js: regular files with Unix modes, symlink entries, directories.
 *
 * @module
 */

import {
  configure,
  Uint8ArrayReader,
  Uint8ArrayWriter,
  ZipWriter,
} from "npm:@zip.js/zip.js@2.24.0";

configure({ useWebWorkers: false });

/** One entry of a test zip. */
export interface TestZipEntry {
  /** Entry name exactly as stored. */
  name: string;
  /** Content (link target for symlinks); absent for directories. */
  data?: string | Uint8Array;
  /** Unix mode (type bits included for symlinks, e.g. 0o120777). Default 0o100644. */
  mode?: number;
  /** Directory entry. */
  directory?: boolean;
}

/**
 * @param entries The entries, in order.
 * @returns The zip bytes.
 */
export async function buildZip(entries: readonly TestZipEntry[]): Promise<Uint8Array> {
  const writer = new ZipWriter(new Uint8ArrayWriter(), {
    filenameValidation: "tolerant",
  } as Record<string, unknown>);
  for (const e of entries) {
    if (e.directory) {
      await writer.add(e.name, undefined, { directory: true });
      continue;
    }
    const data = typeof e.data === "string"
      ? new TextEncoder().encode(e.data)
      : e.data ?? new Uint8Array();
    await writer.add(e.name, new Uint8ArrayReader(data), {
      unixMode: e.mode ?? 0o100644,
      level: 6,
    } as Record<string, unknown>);
  }
  return await writer.close();
}

/**
 * Writes a zip to a file.
 *
 * @param path Destination.
 * @param entries Entries.
 * @returns `path`.
 */
export async function writeZip(path: string, entries: readonly TestZipEntry[]): Promise<string> {
  await Deno.writeFile(path, await buildZip(entries));
  return path;
}

/**
 * Downloads an HTTP(S) module archive (`.tar.gz`/`.tgz`/`.zip`, or the `?archive=` form) through
 * an injected {@linkcode UpstreamFetch} and unpacks it safely into a directory.
 *
 * @module
 */

import { Reader, ZipReader } from "npm:@zip.js/zip.js@2.24.0";
import type { UpstreamFetch } from "../proxy/route.ts";
import { UpstreamStatusError } from "../proxy/errors.ts";
import type { ArchiveSourceSpec } from "./module_source_address.ts";
import { ModuleFetchError, UnsafeArchiveError } from "./module_source_errors.ts";
import { DEFAULT_TREE_LIMITS, SafeExtractor, type TreeLimits } from "./safe_extract.ts";
import { extractTar } from "./tarball.ts";

/** Options for {@linkcode fetchArchive}. */
export interface ArchiveFetchOptions {
  /** Propagated upstream fetch (carries the archive host's credentials). */
  fetch: UpstreamFetch;
  /** Aborts the download. */
  signal?: AbortSignal;
  /** Largest accepted download (compressed) in bytes; default 512 MiB. */
  maxDownloadBytes?: number;
  /** Bounds on the unpacked tree. */
  limits?: TreeLimits;
}

/** Default bound on a downloaded archive: 512 MiB. */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024;

/** Random-access zip.js reader over an open file. */
class FileZipReader extends Reader<Deno.FsFile> {
  readonly #file: Deno.FsFile;

  constructor(file: Deno.FsFile, size: number) {
    super(file);
    this.#file = file;
    this.size = size;
  }

  override async readUint8Array(index: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(Math.max(0, Math.min(length, this.size - index)));
    await this.#file.seek(index, Deno.SeekMode.Start);
    let off = 0;
    while (off < out.byteLength) {
      const n = await this.#file.read(out.subarray(off));
      if (n === null) break;
      off += n;
    }
    return out.subarray(0, off);
  }
}

/**
 * Extracts a zip file safely (names normalised, links checked, limits enforced).
 *
 * @param zipPath Path of the zip file.
 * @param dest Existing empty directory.
 * @param limits Bounds on the unpacked tree.
 */
export async function extractZip(
  zipPath: string,
  dest: string,
  limits: TreeLimits = DEFAULT_TREE_LIMITS,
): Promise<void> {
  using file = await Deno.open(zipPath);
  const size = (await file.stat()).size;
  const zip = new ZipReader(new FileZipReader(file, size), { useWebWorkers: false });
  const out = new SafeExtractor(dest, limits);
  try {
    for (const entry of await zip.getEntries()) {
      if (entry.encrypted) throw new UnsafeArchiveError(entry.filename, "encrypted zip entries");
      if (entry.directory) {
        await out.directory(entry.filename);
        continue;
      }
      if (entry.uncompressedSize > limits.maxFileBytes) {
        throw new UnsafeArchiveError(entry.filename, `larger than ${limits.maxFileBytes} bytes`);
      }
      const pipe = new TransformStream<Uint8Array, Uint8Array>();
      const reading = entry.getData(pipe.writable);
      if (entry.symlink) {
        const target = await new Response(pipe.readable).text();
        await reading;
        await out.symlink(entry.filename, target);
        continue;
      }
      const writing = out.file(entry.filename, pipe.readable, entry.executable);
      const [w, r] = await Promise.allSettled([writing, reading]);
      if (w.status === "rejected") throw w.reason;
      if (r.status === "rejected") {
        throw new UnsafeArchiveError(entry.filename, `the entry does not unpack: ${r.reason}`);
      }
    }
    await out.finish();
  } finally {
    await zip.close();
  }
}

/**
 * Downloads an archive into a temporary file and unpacks it into `dest` (an existing empty
 * directory). The temporary file is always removed; on error the caller removes `dest`.
 *
 * @param spec The archive source.
 * @param dest Existing empty directory.
 * @param options Fetch, limits and cancellation.
 * @throws {UpstreamStatusError} when the archive host answers non-2xx.
 * @throws {ModuleFetchError} for oversize or unreadable downloads.
 * @throws {UnsafeArchiveError} for unsafe or oversize archive contents.
 */
export async function fetchArchive(
  spec: ArchiveSourceSpec,
  dest: string,
  options: ArchiveFetchOptions,
): Promise<void> {
  const max = options.maxDownloadBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES;
  const init: Parameters<UpstreamFetch>[1] = { purpose: "artifact" };
  if (options.signal !== undefined) init.signal = options.signal;
  const response = await options.fetch(spec.url, init);
  if (!response.ok) {
    const body = new Uint8Array(await response.arrayBuffer()).subarray(0, 64 * 1024);
    throw new UpstreamStatusError(response.status, spec.url, response.headers, body);
  }
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > max) {
    await response.body?.cancel();
    throw new ModuleFetchError(spec.url, `the archive is ${declared} bytes, over the ${max} limit`);
  }
  const tmp = await Deno.makeTempFile({ prefix: "tfcache-archive-" });
  try {
    {
      using file = await Deno.open(tmp, { write: true, truncate: true });
      let size = 0;
      if (response.body !== null) {
        for await (const chunk of response.body) {
          size += chunk.byteLength;
          if (size > max) {
            throw new ModuleFetchError(spec.url, `the archive is over the ${max} byte limit`);
          }
          let off = 0;
          while (off < chunk.byteLength) off += await file.write(chunk.subarray(off));
        }
      }
    }
    const limits = options.limits ?? DEFAULT_TREE_LIMITS;
    if (spec.format === "zip") {
      await extractZip(tmp, dest, limits);
    } else {
      const file = await Deno.open(tmp);
      await extractTar(file.readable.pipeThrough(new DecompressionStream("gzip")), dest, limits)
        .catch((e) => {
          if (e instanceof TypeError && !(e instanceof UnsafeArchiveError)) {
            throw new ModuleFetchError(spec.url, `the archive is not valid gzip: ${e.message}`, {
              cause: e,
            });
          }
          throw e;
        });
    }
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

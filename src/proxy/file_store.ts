/**
 * {@linkcode FileStore}: the {@linkcode Store} on a local directory.
 *
 * Layout: the object for key `a/b/c.zip` lives at `<root>/a/b/c.zip`, its JSON sidecar at
 * `<root>/a/b/c.zip.metadata.json` and its lock file at `<root>/a/b/c.zip.lock`. Staging files are
 * `.tmp-<random>` in the object's directory, so every rename stays on one filesystem. With
 * {@linkcode FileStoreOptions.encodeColons} (the default on Windows, which refuses `:` in file
 * names) every path is the key encoded by `encodeKeyPath` (`%` as `%25`, `:` as `%3A`):
 * `providers/127.0.0.1:8443/…` lives at `<root>/providers/127.0.0.1%3A8443/…`. Keys never change.
 *
 * Consistency without a reader lock: the sidecar records the object's `size` and modification
 * time (`mtime_ms`). `stat`/`open`/`list` treat an object whose sidecar is missing, unreadable or
 * describes a different file (size or mtime second differs) as absent. Commit renames the object
 * first and the sidecar second, so during the short window between the two renames (or after a
 * crash inside it) a lock-free reader sees "absent" and falls back to the locked fill path; it
 * never gets an object paired with a sidecar that describes other bytes. `open` compares the
 * sidecar with the opened file descriptor itself, so a replacement between `stat` and `open` is
 * detected too. The one blind spot is a replacement by bytes of identical length whose mtime falls
 * in the same second as the old object's, inside that microsecond window.
 *
 * Serving while filling: `commit` offers its staging file to the caller through
 * `CommitOptions.onStaged` (a {@linkcode StagedObject}). Each reader opens the staging file by
 * path while it still exists and keeps its own descriptor, so it can finish reading after the
 * rename (same inode); once the commit is over, `openReader` throws `NotFound` and the caller
 * serves the committed object instead.
 *
 * All filesystem assumptions live in this file; other backends implement the same `Store`.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { abortableSleep } from "../_shared/abortable.ts";
import { KeyedMutex } from "../_shared/keyed_mutex.ts";
import { LOCK_SUFFIX, SIDECAR_SUFFIX, TEMP_PREFIX, validateKey } from "./cache_key.ts";
import { isValidKey } from "./cache_key.ts";
import { DEFAULT_ENCODE_COLONS, fromDiskPath, toDiskPath } from "./_key_path.ts";
import type { ObjectInfo, RouteKind } from "./route.ts";
import { SizeMismatchError } from "./errors.ts";
import type {
  CommitOptions,
  HeldLock,
  OpenedObject,
  StagedObject,
  StagedReader,
  Store,
} from "./store.ts";

/** Options for {@linkcode FileStore}. */
export interface FileStoreOptions {
  /** `sweep()` removes staging files older than this (default 15 minutes). */
  tempMaxAgeMs?: number;
  /** Clock for `fetched_at` and `sweep()`; `Date.now` by default. */
  now?: () => number;
  /**
   * Store each key under its `encodeKeyPath` form (`%` as `%25`, `:` as `%3A`), for file
   * systems that refuse `:` in names. Default: on Windows only, so caches made on Linux and macOS
   * keep their layout. Every process sharing a cache directory must use the same setting.
   */
  encodeColons?: boolean;
}

/** The sidecar's JSON shape (snake_case on disk). */
interface Sidecar {
  sha256: string;
  size: number;
  kind: RouteKind;
  content_type: string;
  fetched_at: string;
  mtime_ms: number | null;
  extra: Record<string, unknown>;
}

const READ_CHUNK = 128 * 1024;
/** Staging write size: incoming chunks are coalesced up to this many bytes per write. */
const STAGE_BUFFER_BYTES = 256 * 1024;
const DEFAULT_TEMP_MAX_AGE_MS = 15 * 60 * 1000;
const IS_WINDOWS = Deno.build.os === "windows";

function isAbsent(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory;
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!isAbsent(error)) throw error;
  }
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

function randomSuffix(): string {
  return crypto.getRandomValues(new Uint8Array(8)).toHex();
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) {
    offset += await file.write(bytes.subarray(offset));
  }
}

/** Makes a rename durable by fsyncing its directory (Linux and macOS; a no-op elsewhere). */
async function syncDirectory(dir: string): Promise<void> {
  if (Deno.build.os !== "linux" && Deno.build.os !== "darwin") return;
  using handle = await Deno.open(dir, { read: true });
  await handle.sync();
}

function sameSecond(a: number, b: number): boolean {
  return Math.floor(a / 1000) === Math.floor(b / 1000);
}

/** Whether a sidecar describes the file `info` (size, and mtime second when both are known). */
function describes(sidecar: Sidecar, info: Deno.FileInfo): boolean {
  if (!info.isFile || sidecar.size !== info.size) return false;
  if (sidecar.mtime_ms === null || info.mtime === null) return true;
  return sameSecond(sidecar.mtime_ms, info.mtime.getTime());
}

function parseKind(value: unknown): RouteKind {
  return value === "artifact" || value === "passthrough" ? value : "metadata";
}

function parseSidecar(text: string): Sidecar | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== "object" || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.sha256 !== "string" || typeof r.size !== "number") return undefined;
  const fetched = typeof r.fetched_at === "string" ? new Date(r.fetched_at) : undefined;
  if (!fetched || Number.isNaN(fetched.getTime())) return undefined;
  return {
    sha256: r.sha256,
    size: r.size,
    kind: parseKind(r.kind),
    content_type: typeof r.content_type === "string" ? r.content_type : "application/octet-stream",
    fetched_at: fetched.toISOString(),
    mtime_ms: typeof r.mtime_ms === "number" ? r.mtime_ms : null,
    extra: typeof r.extra === "object" && r.extra !== null && !Array.isArray(r.extra)
      ? r.extra as Record<string, unknown>
      : {},
  };
}

function toInfo(key: string, sidecar: Sidecar): ObjectInfo {
  return {
    key,
    size: sidecar.size,
    sha256: sidecar.sha256,
    kind: sidecar.kind,
    contentType: sidecar.content_type,
    fetchedAt: new Date(sidecar.fetched_at),
    extra: sidecar.extra,
  };
}

/** A bounded stream over an open file; closes the file when done, on error and on cancel. */
function fileStream(file: Deno.FsFile, length: number, key: string): ReadableStream<Uint8Array> {
  let remaining = length;
  let closed = false;
  let reading: Promise<unknown> = Promise.resolve();
  const close = () => {
    if (!closed) {
      closed = true;
      file.close();
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (remaining <= 0) {
        close();
        controller.close();
        return;
      }
      const buffer = new Uint8Array(Math.min(READ_CHUNK, remaining));
      const pending = file.read(buffer);
      reading = pending.catch(() => {});
      let count: number | null;
      try {
        count = await pending;
      } catch (error) {
        close();
        controller.error(error);
        return;
      }
      if (closed) return;
      if (count === null) {
        close();
        controller.error(
          new Error(`Cannot read cached object "${key}": file ended ${remaining} bytes early`),
        );
        return;
      }
      remaining -= count;
      controller.enqueue(buffer.subarray(0, count));
      if (remaining <= 0) {
        close();
        controller.close();
      }
    },
    async cancel() {
      await reading;
      close();
    },
  }, { highWaterMark: 0 });
}

/** Progress of one `commit`'s staging file, shared with in-process readers. */
class FileStaging implements StagedObject {
  staged = 0;
  complete = false;
  readonly committed: Promise<ObjectInfo>;
  #path: string;
  #over = false;
  #changed = Promise.withResolvers<void>();
  #settle = Promise.withResolvers<ObjectInfo>();

  constructor(path: string) {
    this.#path = path;
    this.committed = this.#settle.promise;
    this.committed.catch(() => {});
  }

  /** Records `count` more bytes written (and fully handed to the file). */
  advance(count: number): void {
    this.staged += count;
    this.#wake();
  }

  /** Records the end of the data stream. */
  finish(): void {
    this.complete = true;
    this.#wake();
  }

  /** Records the commit's result; called once, before the staging path disappears for good. */
  end(result: { info: ObjectInfo } | { error: unknown }): void {
    if (this.#over) return;
    this.#over = true;
    if ("info" in result) this.#settle.resolve(result.info);
    else this.#settle.reject(result.error);
    this.#wake();
  }

  #wake(): void {
    const changed = this.#changed;
    this.#changed = Promise.withResolvers<void>();
    changed.resolve();
  }

  async waitFor(offset: number): Promise<void> {
    while (this.staged <= offset && !this.complete && !this.#over) await this.#changed.promise;
  }

  async openReader(): Promise<StagedReader> {
    if (this.#over) {
      throw new Deno.errors.NotFound(`Cannot read staged file "${this.#path}": staging is over`);
    }
    const file = await Deno.open(this.#path, { read: true });
    let closed = false;
    return {
      read: (buffer) => file.read(buffer),
      close: () => {
        if (closed) return;
        closed = true;
        file.close();
      },
    };
  }
}

/**
 * A {@linkcode Store} on a local directory (see the module documentation for the layout and the
 * consistency rules).
 *
 * @example
 * ```ts
 * import { FileStore } from "./file_store.ts";
 *
 * const store = new FileStore("/tmp/cache");
 * await store.commit("a/b.txt", ReadableStream.from([new TextEncoder().encode("hi")]), {
 *   kind: "artifact",
 *   contentType: "text/plain",
 * });
 * const info = await store.stat("a/b.txt"); // { size: 2, sha256: "8f43…", … }
 * ```
 */
export class FileStore implements Store {
  /** Root directory of the cache (no trailing slash). */
  readonly root: string;
  /** Whether on-disk names are the keys encoded by `encodeKeyPath` (`_key_path.ts`). */
  readonly encodeColons: boolean;
  #tempMaxAgeMs: number;
  #now: () => number;
  #mutex = new KeyedMutex();

  /**
   * @param root The cache directory; created on the first commit.
   * @param options Staging sweep age, clock and on-disk name encoding.
   */
  constructor(root: string, options: FileStoreOptions = {}) {
    this.root = root.length > 1 ? root.replace(/[\\/]+$/, "") : root;
    this.encodeColons = options.encodeColons ?? DEFAULT_ENCODE_COLONS;
    this.#tempMaxAgeMs = options.tempMaxAgeMs ?? DEFAULT_TEMP_MAX_AGE_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Local path of the object for `key` (validated).
   *
   * @param key Cache key.
   * @returns `<root>/<key>` (the key encoded when {@linkcode FileStore.encodeColons}).
   */
  objectPath(key: string): string {
    return `${this.root}/${this.#diskPath(validateKey(key))}`;
  }

  /** The on-disk relative path of a (validated) key or key directory. */
  #diskPath(key: string): string {
    return toDiskPath(key, this.encodeColons);
  }

  /** The key an on-disk relative path stands for, or `undefined` when it stands for none. */
  #keyOf(path: string): string | undefined {
    return fromDiskPath(path, this.encodeColons);
  }

  async #readSidecar(objectPath: string): Promise<Sidecar | undefined> {
    try {
      return parseSidecar(await Deno.readTextFile(objectPath + SIDECAR_SUFFIX));
    } catch (error) {
      if (isAbsent(error) || error instanceof Deno.errors.IsADirectory) return undefined;
      throw error;
    }
  }

  /**
   * Metadata of a committed object; `undefined` when the object is missing, is a directory, or
   * has no sidecar describing it.
   *
   * @param key Cache key.
   * @returns The object's metadata, or `undefined`.
   */
  async stat(key: string): Promise<ObjectInfo | undefined> {
    const path = this.objectPath(key);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (error) {
      if (isAbsent(error)) return undefined;
      throw error;
    }
    if (!info.isFile) return undefined;
    const sidecar = await this.#readSidecar(path);
    if (!sidecar || !describes(sidecar, info)) return undefined;
    return toInfo(key, sidecar);
  }

  /**
   * Opens a committed object, optionally a byte range (`end` inclusive).
   *
   * @param key Cache key.
   * @param range Byte range within the object.
   * @returns The metadata and a stream of the bytes; consume or cancel the stream.
   * @throws {Deno.errors.NotFound} When no committed object exists for `key`.
   * @throws {RangeError} When the range does not fit the object.
   */
  async open(key: string, range?: { start: number; end: number }): Promise<OpenedObject> {
    const path = this.objectPath(key);
    for (let attempt = 0;; attempt++) {
      let file: Deno.FsFile;
      try {
        file = await Deno.open(path, { read: true });
      } catch (error) {
        if (isAbsent(error)) {
          throw new Deno.errors.NotFound(`Cannot open cached object "${key}": not in the store`);
        }
        throw error;
      }
      try {
        const info = await file.stat();
        const sidecar = info.isFile ? await this.#readSidecar(path) : undefined;
        if (!sidecar || !describes(sidecar, info)) {
          file.close();
          // A commit may be between its two renames; look again shortly.
          if (attempt < 3 && info.isFile) {
            await abortableSleep(5);
            continue;
          }
          throw new Deno.errors.NotFound(
            `Cannot open cached object "${key}": no metadata describes the stored file`,
          );
        }
        let start = 0;
        let length = sidecar.size;
        if (range) {
          if (
            !Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) ||
            range.start < 0 || range.end < range.start || range.end >= sidecar.size
          ) {
            file.close();
            throw new RangeError(
              `Cannot open cached object "${key}": range ${range.start}-${range.end} is outside 0-${
                sidecar.size - 1
              }`,
            );
          }
          start = range.start;
          length = range.end - range.start + 1;
        }
        if (start > 0) await file.seek(start, Deno.SeekMode.Start);
        return { info: toInfo(key, sidecar), body: fileStream(file, length, key) };
      } catch (error) {
        try {
          file.close();
        } catch {
          // Already closed above.
        }
        throw error;
      }
    }
  }

  /**
   * Streams `data` into a staging file while hashing it, runs `verify`, then atomically renames
   * the object and its sidecar into place. On any failure the staging files are removed and
   * nothing becomes visible.
   *
   * @param key Cache key.
   * @param data The bytes; consumed (or cancelled on failure).
   * @param options Kind, content type, verify hook, extra sidecar fields and abort signal.
   * @returns The committed object's metadata.
   */
  async commit(
    key: string,
    data: ReadableStream<Uint8Array>,
    options: CommitOptions,
  ): Promise<ObjectInfo> {
    const path = this.objectPath(key);
    const dir = parentOf(path);
    const stagedObject = `${dir}/${TEMP_PREFIX}${randomSuffix()}`;
    const stagedSidecar = `${dir}/${TEMP_PREFIX}${randomSuffix()}`;
    const { signal } = options;
    const reader = data.getReader();
    const onAbort = () => void reader.cancel(signal?.reason).catch(() => {});
    let file: Deno.FsFile | undefined;
    let finished = false;
    const staging = options.onStaged ? new FileStaging(stagedObject) : undefined;
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      signal?.throwIfAborted();
      await Deno.mkdir(dir, { recursive: true });
      file = await Deno.open(stagedObject, { write: true, createNew: true, mode: 0o600 });
      if (staging) options.onStaged?.(staging);
      const hash = createHash("sha256");
      let size = 0;
      // Network chunks are small (~16 KiB over TLS): coalesce them, so that the file (and
      // every live reader) sees a few hundred large writes instead of thousands of small ones.
      const buffer = new Uint8Array(STAGE_BUFFER_BYTES);
      let buffered = 0;
      const flush = async (target: Deno.FsFile) => {
        if (buffered === 0) return;
        await writeAll(target, buffer.subarray(0, buffered));
        staging?.advance(buffered);
        buffered = 0;
      };
      while (true) {
        const { done, value } = await reader.read();
        signal?.throwIfAborted();
        if (done) break;
        hash.update(value);
        size += value.byteLength;
        for (let at = 0; at < value.byteLength;) {
          const take = Math.min(buffer.byteLength - buffered, value.byteLength - at);
          buffer.set(value.subarray(at, at + take), buffered);
          buffered += take;
          at += take;
          if (buffered === buffer.byteLength) await flush(file);
        }
      }
      await flush(file);
      finished = true;
      staging?.finish();
      if (options.expectedSize !== undefined && size !== options.expectedSize) {
        throw new SizeMismatchError(key, options.expectedSize, size);
      }
      await file.syncData();
      const staged = await file.stat();
      file.close();
      file = undefined;
      const sha256 = hash.digest("hex");
      const verified = await options.verify?.({ key, sha256, size, stagedPath: stagedObject });
      const sidecar: Sidecar = {
        sha256,
        size,
        kind: options.kind,
        content_type: options.contentType,
        fetched_at: new Date(this.#now()).toISOString(),
        mtime_ms: staged.mtime?.getTime() ?? null,
        extra: { ...options.extra, ...verified },
      };
      if (!IS_WINDOWS) await Deno.chmod(stagedObject, 0o644);
      await this.#writeStaged(stagedSidecar, JSON.stringify(sidecar, null, 2) + "\n");
      signal?.throwIfAborted();
      await Deno.rename(stagedObject, path);
      await Deno.rename(stagedSidecar, path + SIDECAR_SUFFIX);
      await syncDirectory(dir);
      const info = toInfo(key, sidecar);
      staging?.end({ info });
      return info;
    } catch (error) {
      if (!finished) await reader.cancel(error).catch(() => {});
      file?.close();
      staging?.end({ error });
      await removeQuietly(stagedObject);
      await removeQuietly(stagedSidecar);
      throw error;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      reader.releaseLock();
    }
  }

  /**
   * Merges `extra` into the sidecar of `key` if the stored object still has `expectedSha256`:
   * under the key's lock, the sidecar is re-read and validated as `stat` does, then a new one is
   * staged and renamed over it (the object file is untouched, so its size and mtime still match).
   *
   * @param key Cache key.
   * @param expectedSha256 The SHA-256 the annotation was computed for.
   * @param extra Fields to merge into the sidecar's `extra`.
   * @returns `true` when merged; `false` when the object is absent or has other bytes.
   */
  async annotate(
    key: string,
    expectedSha256: string,
    extra: Record<string, unknown>,
  ): Promise<boolean> {
    const path = this.objectPath(key);
    const dir = parentOf(path);
    await using _held = await this.lock(key);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (error) {
      if (isAbsent(error)) return false;
      throw error;
    }
    const sidecar = info.isFile ? await this.#readSidecar(path) : undefined;
    if (!sidecar || !describes(sidecar, info) || sidecar.sha256 !== expectedSha256) return false;
    const next: Sidecar = { ...sidecar, extra: { ...sidecar.extra, ...extra } };
    const staged = `${dir}/${TEMP_PREFIX}${randomSuffix()}`;
    try {
      await this.#writeStaged(staged, JSON.stringify(next, null, 2) + "\n");
      await Deno.rename(staged, path + SIDECAR_SUFFIX);
    } catch (error) {
      await removeQuietly(staged);
      throw error;
    }
    await syncDirectory(dir);
    return true;
  }

  /**
   * Local path of the object for `key` (the committed file; read-only for callers).
   *
   * @param key Cache key.
   * @returns `<root>/<key>` (the key encoded when {@linkcode FileStore.encodeColons}).
   */
  localPath(key: string): string {
    return this.objectPath(key);
  }

  async #writeStaged(path: string, text: string): Promise<void> {
    using file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    await writeAll(file, new TextEncoder().encode(text));
    await file.syncData();
    if (!IS_WINDOWS) await Deno.chmod(path, 0o644);
  }

  /**
   * Takes the exclusive lock for `key`: first an in-process keyed mutex, then an OS `flock` on
   * `<root>/<key>.lock`, polled so that the wait can be aborted.
   *
   * @param key Cache key.
   * @param signal Aborts the wait (rejects with the signal's reason).
   * @returns The held lock; release it (or dispose it) after the commit.
   */
  async lock(key: string, signal?: AbortSignal): Promise<HeldLock> {
    const lockPath = this.objectPath(key) + LOCK_SUFFIX;
    const unlockMutex = await this.#mutex.acquire(key, signal);
    let file: Deno.FsFile | undefined;
    try {
      await Deno.mkdir(parentOf(lockPath), { recursive: true });
      file = await Deno.open(lockPath, { read: true, write: true, create: true, mode: 0o644 });
      let delay = 2;
      while (!(await file.tryLock(true))) {
        await abortableSleep(delay, signal);
        delay = Math.min(delay * 2, 50);
      }
    } catch (error) {
      file?.close();
      unlockMutex();
      throw error;
    }
    const held = file;
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      try {
        await held.unlock();
      } finally {
        held.close();
        unlockMutex();
      }
    };
    return { release, [Symbol.asyncDispose]: release };
  }

  /**
   * Removes an object and its sidecar (idempotent). The lock file stays: removing a lock file
   * that another process holds or waits on would let a third process lock a fresh file and fill
   * the same key at the same time.
   *
   * @param key Cache key.
   */
  async delete(key: string): Promise<void> {
    const path = this.objectPath(key);
    await removeQuietly(path);
    await removeQuietly(path + SIDECAR_SUFFIX);
  }

  /**
   * Files under `<root>/<relativeDir>` (an on-disk path), each directory's entries in the order
   * of the names they decode to (so listings are in the same order whether or not names are
   * encoded).
   */
  async *#walk(relativeDir: string): AsyncGenerator<{ path: string; name: string }> {
    const dir = relativeDir ? `${this.root}/${relativeDir}` : this.root;
    const entries: { entry: Deno.DirEntry; order: string }[] = [];
    try {
      for await (const entry of Deno.readDir(dir)) {
        entries.push({ entry, order: this.#keyOf(entry.name) ?? entry.name });
      }
    } catch (error) {
      if (isAbsent(error)) return;
      throw error;
    }
    entries.sort((a, b) => a.order < b.order ? -1 : a.order > b.order ? 1 : 0);
    for (const { entry } of entries) {
      const path = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
      if (entry.isDirectory) yield* this.#walk(path);
      else if (entry.isFile) yield { path, name: entry.name };
    }
  }

  /**
   * Lists committed objects in key order, skipping sidecars, lock files, staging files and
   * objects without a matching sidecar.
   *
   * @param prefix Only keys starting with this string.
   * @returns The objects' metadata.
   */
  async *list(prefix = ""): AsyncGenerator<ObjectInfo> {
    const slash = prefix.lastIndexOf("/");
    const start = slash > 0 ? prefix.slice(0, slash) : "";
    if (start) validateKey(start);
    for await (const { path, name } of this.#walk(start ? this.#diskPath(start) : "")) {
      if (name.startsWith(TEMP_PREFIX)) continue;
      const key = this.#keyOf(path);
      if (key === undefined || !key.startsWith(prefix) || !isValidKey(key)) continue;
      const info = await this.stat(key);
      if (info) yield info;
    }
  }

  /**
   * Removes staging files (`.tmp-*`) left by crashed writers.
   *
   * @param olderThanMs Only files whose mtime is at least this old (default: the store's
   * `tempMaxAgeMs`, 15 minutes), so live writers in other processes are left alone.
   * @returns How many files were removed.
   */
  async sweep(olderThanMs: number = this.#tempMaxAgeMs): Promise<number> {
    let removed = 0;
    const cutoff = this.#now() - olderThanMs;
    for await (const { path: relative, name } of this.#walk("")) {
      if (!name.startsWith(TEMP_PREFIX)) continue;
      const path = `${this.root}/${relative}`;
      try {
        const info = await Deno.lstat(path);
        if ((info.mtime?.getTime() ?? 0) > cutoff) continue;
        await Deno.remove(path);
        removed++;
      } catch (error) {
        if (!isAbsent(error)) throw error;
      }
    }
    return removed;
  }
}

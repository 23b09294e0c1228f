/**
 * The storage interface of the caching core. `FileStore` (file_store.ts) implements it on a local
 * directory; an object-store backend (S3 with conditional writes) will implement the same contract.
 *
 * Contract:
 * - `stat`/`open` never take locks and never see a partially written object.
 * - `commit` stages the bytes (hashing them on the way), runs `verify`, and only then makes the
 *   object and its sidecar visible atomically. On any error nothing becomes visible.
 * - `lock` is exclusive across processes sharing the same store, and held only around fetch+commit
 *   (and around the short sidecar rewrite of `annotate`).
 * - `annotate` merges fields into a committed object's sidecar only if the object still has the
 *   expected SHA-256; it never changes the object's bytes.
 * - Optional capability, serving while filling: a store that can read its own staging area calls
 *   `CommitOptions.onStaged` with a {@linkcode StagedObject} as soon as staging begins. The core
 *   streams the staged bytes to in-process waiters but withholds the tail until `committed`
 *   resolves. A store without it simply never calls `onStaged`; waiters then wait for the commit.
 *
 * @module
 */

import type { ObjectInfo, RouteKind, VerifyInput } from "./route.ts";

export type { ObjectInfo };

/** Options for {@linkcode Store.commit}. */
export interface CommitOptions {
  /** Kind recorded in the sidecar. */
  kind: RouteKind;
  /** Content type recorded in the sidecar. */
  contentType: string;
  /** Integrity gate on the staged bytes; throw to reject, return fields for the sidecar `extra`. */
  verify?: (input: VerifyInput) => Promise<Record<string, unknown> | void>;
  /** Free-form sidecar fields known before staging. */
  extra?: Record<string, unknown>;
  /** Aborts staging; nothing is committed. */
  signal?: AbortSignal;
  /** The exact size announced for the bytes; any other size fails the commit (nothing stored). */
  expectedSize?: number;
  /**
   * Called once, when staging has begun, by stores that can read staged bytes (optional
   * capability, see the module documentation). Must not throw.
   */
  onStaged?: (staged: StagedObject) => void;
}

/** A sequential reader over staged bytes, from byte 0. Close it when done. */
export interface StagedReader {
  /**
   * Reads into `buffer` (at most `buffer.byteLength` bytes). The caller never asks for more than
   * {@linkcode StagedObject.staged} minus what it already read.
   *
   * @returns The number of bytes read, or `null` at the end of the staged file.
   */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Releases the reader (idempotent). */
  close(): void;
}

/**
 * An object being staged by `commit`, readable while it grows. Bytes below `staged` are final
 * (they will not change), but they are NOT verified: whoever serves them must withhold at least
 * the last byte until `committed` resolves.
 */
export interface StagedObject {
  /** Bytes written to the staging area so far. */
  readonly staged: number;
  /** Whether the data stream has ended (all bytes staged); verify and rename may still be running. */
  readonly complete: boolean;
  /**
   * Resolves with the committed metadata once the object is visible; rejects with the commit's
   * error when nothing was committed. Never reported as unhandled.
   */
  readonly committed: Promise<ObjectInfo>;
  /**
   * Waits until more than `offset` bytes are staged, or staging stopped (complete or failed).
   *
   * @param offset A byte count.
   */
  waitFor(offset: number): Promise<void>;
  /**
   * Opens a reader from byte 0.
   *
   * @throws {Deno.errors.NotFound} when staging is over (committed or removed): serve the
   * committed object instead.
   */
  openReader(): Promise<StagedReader>;
}

/** An open cached object. The body must be consumed or cancelled. */
export interface OpenedObject {
  /** Metadata read alongside the body. */
  info: ObjectInfo;
  /** The bytes, from `start` to `end` inclusive when a range was requested. */
  body: ReadableStream<Uint8Array>;
}

/** A held cross-process lock; release by disposing. */
export interface HeldLock extends AsyncDisposable {
  /** Releases the lock (idempotent). */
  release(): Promise<void>;
}

/** Where cached objects live. Keys are validated `/`-separated relative paths. */
export interface Store {
  /** Metadata of a committed object, or `undefined` when absent. Never throws for absence. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Opens a committed object, optionally a byte range (`end` inclusive). Throws `Deno.errors.NotFound`. */
  open(key: string, range?: { start: number; end: number }): Promise<OpenedObject>;
  /** Stages, verifies and atomically commits an object and its sidecar. */
  commit(
    key: string,
    data: ReadableStream<Uint8Array>,
    options: CommitOptions,
  ): Promise<ObjectInfo>;
  /** Takes the exclusive cross-process lock for `key`. */
  lock(key: string, signal?: AbortSignal): Promise<HeldLock>;
  /** Removes an object and its sidecar (idempotent); its lock file stays, so lockers never split. */
  delete(key: string): Promise<void>;
  /** Lists committed objects (keys and metadata), optionally under a key prefix. */
  list(prefix?: string): AsyncIterable<ObjectInfo>;
  /** Removes staging leftovers of crashed writers; returns how many were removed. */
  sweep(): Promise<number>;
  /**
   * Merges `extra` into the sidecar of the committed object for `key`, only if that object still
   * has the SHA-256 `expectedSha256`. Atomic: readers see the old or the new sidecar.
   *
   * @returns `true` when merged, `false` when the object is absent or has other bytes.
   */
  annotate(key: string, expectedSha256: string, extra: Record<string, unknown>): Promise<boolean>;
  /**
   * Local file path of the committed object for `key` (read-only), for stores that have one.
   * Post-commit annotations run only on stores that implement it.
   */
  localPath?(key: string): string;
}

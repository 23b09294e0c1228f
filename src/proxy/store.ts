/**
 * The storage interface of the caching core. `FileStore` (file_store.ts) implements it on a local
 * directory; an object-store backend (S3 with conditional writes) will implement the same contract.
 *
 * Contract:
 * - `stat`/`open` never take locks and never see a partially written object.
 * - `commit` stages the bytes (hashing them on the way), runs `verify`, and only then makes the
 *   object and its sidecar visible atomically. On any error nothing becomes visible.
 * - `lock` is exclusive across processes sharing the same store, and held only around fetch+commit.
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
  /** Removes an object, its sidecar and its lock file (idempotent). */
  delete(key: string): Promise<void>;
  /** Lists committed objects (keys and metadata), optionally under a key prefix. */
  list(prefix?: string): AsyncIterable<ObjectInfo>;
  /** Removes staging leftovers of crashed writers; returns how many were removed. */
  sweep(): Promise<number>;
}

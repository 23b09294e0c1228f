/**
 * Cross-process exclusive locks for cache entries: an in-process keyed FIFO mutex (flock locks
 * belong to the open file description, so two handles in one process would conflict and park
 * threads), then `Deno.FsFile#tryLock(true)` on a lock file, polled with back-off so the wait can
 * be aborted. The lock file is never deleted (deleting a held lock file would let a third process
 * lock a fresh inode).
 *
 * Note: `FsFile#lock` is flock(2) on Unix; it does not exclude a concurrent terraform or tofu
 * (OpenTofu uses fcntl locks), which is why entries are also published atomically.
 *
 * @module
 */

import { dirname } from "node:path";
import { abortableSleep } from "../_shared/abortable.ts";
import { KeyedMutex } from "../_shared/keyed_mutex.ts";

/** A held lock; release it exactly once (or dispose it). */
export interface HeldDirLock extends AsyncDisposable {
  /** The lock file path. */
  readonly path: string;
  /** Releases the OS lock, closes the file and wakes the next in-process waiter. */
  release(): Promise<void>;
}

/** Options for {@linkcode acquireDirLock}. */
export interface AcquireDirLockOptions {
  /** Aborts the wait. */
  signal?: AbortSignal | undefined;
  /** Called once when the lock is still not acquired after `contendedAfterMs`. */
  onContended?: (() => void) | undefined;
  /** Default 5000 ms, as OpenTofu's `CacheDirLockContended`. */
  contendedAfterMs?: number | undefined;
}

const _mutex = new KeyedMutex();

/**
 * Takes the exclusive lock on `path` (created with its parent directories when missing).
 *
 * @param path The lock file.
 * @param options Abort signal and contention callback.
 * @returns The held lock.
 * @throws {Error} when the lock file cannot be created, or the signal's reason when aborted.
 * @example
 * ```ts
 * await using _lock = await acquireDirLock("/cache/.locks/x.lock");
 * ```
 */
export async function acquireDirLock(
  path: string,
  options: AcquireDirLockOptions = {},
): Promise<HeldDirLock> {
  const { signal } = options;
  const started = Date.now();
  const contendedAfter = options.contendedAfterMs ?? 5000;
  let contendedFired = false;
  const contended = () => {
    if (!contendedFired && Date.now() - started >= contendedAfter) {
      contendedFired = true;
      options.onContended?.();
    }
  };
  const timer = options.onContended === undefined ? undefined : setInterval(contended, 250);
  let unlockMutex: (() => void) | undefined;
  let file: Deno.FsFile | undefined;
  try {
    unlockMutex = await _mutex.acquire(path, signal);
    await Deno.mkdir(dirname(path), { recursive: true });
    try {
      file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o644 });
    } catch (cause) {
      throw new Error(
        `unable to acquire file lock on "${path}": ${
          cause instanceof Error ? cause.message : String(cause)
        }`,
        { cause },
      );
    }
    let delay = 10;
    while (!(await file.tryLock(true))) {
      contended();
      await abortableSleep(delay + Math.floor(Math.random() * delay), signal);
      delay = Math.min(delay * 2, 200);
    }
  } catch (err) {
    file?.close();
    unlockMutex?.();
    throw err;
  } finally {
    if (timer !== undefined) clearInterval(timer);
  }
  const held = file;
  const release = unlockMutex;
  let released = false;
  const doRelease = async () => {
    if (released) return;
    released = true;
    try {
      await held.unlock();
    } finally {
      held.close();
      release();
    }
  };
  return { path, release: doRelease, [Symbol.asyncDispose]: doRelease };
}

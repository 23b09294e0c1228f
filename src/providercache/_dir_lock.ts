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

const _queues = new Map<string, Promise<void>>();

async function _acquireMutex(key: string, signal: AbortSignal | undefined): Promise<() => void> {
  const previous = _queues.get(key) ?? Promise.resolve();
  const { promise, resolve } = Promise.withResolvers<void>();
  const tail = previous.then(() => promise);
  _queues.set(key, tail);
  const release = () => {
    resolve();
    if (_queues.get(key) === tail) _queues.delete(key);
  };
  try {
    await _abortable(previous, signal);
  } catch (err) {
    // Keep the chain intact: release our slot as soon as the predecessor finishes.
    previous.then(release, release);
    throw err;
  }
  return release;
}

function _abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function _sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

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
    unlockMutex = await _acquireMutex(path, signal);
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
      await _sleep(delay + Math.floor(Math.random() * delay), signal);
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

/**
 * {@linkcode KeyedMutex}: an in-process FIFO mutex per key.
 *
 * @module
 */

import { abortable } from "./abortable.ts";

/**
 * An in-process FIFO mutex per key. The cache takes it before an OS file lock because `flock`
 * locks belong to the open file description, not the process: two handles in one process would
 * conflict with each other and park threads.
 *
 * A waiter whose signal aborts gives up its place without letting anyone skip the holder: the
 * next waiter still runs only after the current holder releases.
 *
 * @example Usage
 * ```ts
 * import { KeyedMutex } from "./keyed_mutex.ts";
 * const mutex = new KeyedMutex();
 * const release = await mutex.acquire("a/b.zip");
 * try {
 *   // exclusive work for "a/b.zip"
 * } finally {
 *   release();
 * }
 * ```
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /**
   * Waits for every earlier holder of `key`, then holds it.
   *
   * @param key What is locked.
   * @param signal Stops the wait (rejects with the signal's reason); a held lock is unaffected.
   * @returns The release function; call it exactly once.
   */
  async acquire(key: string, signal?: AbortSignal | undefined): Promise<() => void> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const { promise: done, resolve: finish } = Promise.withResolvers<void>();
    const tail = previous.then(() => done);
    this.#tails.set(key, tail);
    const release = () => {
      finish();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
    try {
      await abortable(previous, signal);
    } catch (error) {
      // Keep the chain intact: give up the slot only once the predecessor is done.
      previous.then(release, release);
      throw error;
    }
    return release;
  }
}

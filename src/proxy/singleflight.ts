/**
 * In-process deduplication of concurrent work per key.
 *
 * @module
 */

import { abortable } from "../_shared/abortable.ts";

/**
 * Runs at most one `fn` per key at a time; concurrent callers for the same key share its result.
 *
 * A caller that stops waiting (its `signal` aborts) only stops waiting: the shared work keeps
 * running for the others, and its eventual rejection is never reported as unhandled.
 *
 * @example
 * ```ts
 * const flights = new SingleFlight<string>();
 * const [a, b] = await Promise.all([
 *   flights.run("k", () => Promise.resolve("v")),
 *   flights.run("k", () => Promise.resolve("other")),
 * ]);
 * // a === b === "v"
 * ```
 */
export class SingleFlight<T> {
  #inflight = new Map<string, Promise<T>>();

  /**
   * Joins the flight for `key`, starting it with `fn` when none is running.
   *
   * @param key Deduplication key.
   * @param fn The work; called only by the first caller.
   * @param signal Stops this caller's wait (not the work).
   * @returns The shared result.
   */
  run(key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let flight = this.#inflight.get(key);
    if (!flight) {
      const started = (async () => await fn())();
      flight = started.finally(() => {
        if (this.#inflight.get(key) === flight) this.#inflight.delete(key);
      });
      flight.catch(() => {});
      this.#inflight.set(key, flight);
    }
    return abortable(flight, signal);
  }

  /**
   * Whether work for `key` is running.
   *
   * @param key Deduplication key.
   * @returns `true` while a flight is in progress.
   */
  has(key: string): boolean {
    return this.#inflight.has(key);
  }

  /**
   * The flight running for `key`, if any (it never rejects unhandled; awaiting it may reject).
   *
   * @param key Deduplication key.
   * @returns The shared work, or `undefined`.
   */
  current(key: string): Promise<T> | undefined {
    return this.#inflight.get(key);
  }

  /** Number of flights in progress. */
  get size(): number {
    return this.#inflight.size;
  }

  /**
   * Waits until every flight running now has settled.
   *
   * @returns Resolves (never rejects) once they have.
   */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#inflight.values()]);
  }
}

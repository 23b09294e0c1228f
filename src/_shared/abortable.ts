/**
 * Waiting that a caller can stop with an `AbortSignal`: on a promise that keeps running for
 * others, and on a timer.
 *
 * @module
 */

/**
 * Waits for `promise`, but rejects with the signal's reason as soon as `signal` aborts (at once
 * when it already has). The underlying work is not cancelled.
 *
 * @typeParam T The promise's value.
 * @param promise The work, possibly shared with other callers.
 * @param signal The caller's own signal; `undefined` waits for the promise as is.
 * @returns The work's result.
 * @example Usage
 * ```ts
 * import { abortable } from "./abortable.ts";
 * const value = await abortable(Promise.resolve(1), AbortSignal.timeout(1000));
 * console.assert(value === 1);
 * ```
 */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Sleeps for `ms` milliseconds; rejects with the signal's reason (and clears the timer) when
 * `signal` aborts first.
 *
 * @param ms The delay in milliseconds.
 * @param signal Stops the sleep.
 * @returns Resolves after the delay.
 * @example Usage
 * ```ts
 * import { abortableSleep } from "./abortable.ts";
 * await abortableSleep(1, AbortSignal.timeout(1000));
 * ```
 */
export function abortableSleep(ms: number, signal?: AbortSignal | undefined): Promise<void> {
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

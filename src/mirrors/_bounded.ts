/**
 * A bounded-concurrency `map` for async work.
 *
 * @module
 */

/**
 * Runs `fn` over `items` with at most `limit` calls in flight and returns the results in input
 * order. The first rejection rejects the whole call; calls already started still run to the end
 * (no new ones start).
 *
 * @param items Inputs.
 * @param limit Most calls in flight (at least 1).
 * @param fn The work for one item.
 * @returns The results, in the order of `items`.
 * @example
 * ```ts
 * const doubled = await mapBounded([1, 2, 3], 2, (n) => Promise.resolve(n * 2));
 * // [2, 4, 6]
 * ```
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker);
  const settled = await Promise.allSettled(workers);
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (rejected !== undefined) throw rejected.reason;
  return results;
}

/**
 * `assertRejects` for the mirror tests: node:assert's `rejects` checks the class or the message,
 * this checks both and hands back the error for further checks.
 *
 * @module
 */

import assert from "node:assert/strict";

// deno-lint-ignore no-explicit-any
type Ctor<E extends Error> = abstract new (...args: any[]) => E;

/**
 * Asserts that `fn` rejects with an instance of `type` whose message contains `includes`.
 *
 * @param fn The call expected to reject.
 * @param type The error class.
 * @param includes A part of the message, if any.
 * @returns The error.
 */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  type: Ctor<E>,
  includes?: string,
): Promise<E> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error !== undefined, `expected ${type.name} to be rejected`);
  assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
  if (includes !== undefined) {
    assert.ok(
      error.message.includes(includes),
      `expected message with "${includes}", got "${error.message}"`,
    );
  }
  return error;
}

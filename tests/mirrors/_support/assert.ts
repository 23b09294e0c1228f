/**
 * Minimal assertions for the mirror tests (no jsr: std here).
 *
 * @module
 */

import { deepStrictEqual, strictEqual } from "node:assert";

/** Deep equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  deepStrictEqual(actual, expected, msg);
}

/** Truthiness. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

/** Strict equality. */
export function assertStrictEquals<T>(actual: T, expected: T, msg?: string): void {
  strictEqual(actual, expected, msg);
}

// deno-lint-ignore no-explicit-any
type Ctor = abstract new (...args: any[]) => Error;

/** Throws an instance of `type` (optionally with a message part). */
export function assertThrows(fn: () => unknown, type: Ctor, includes?: string): Error {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof type)) throw new Error(`expected ${type.name}, got ${e}`);
    if (includes !== undefined && !e.message.includes(includes)) {
      throw new Error(`expected message with "${includes}", got "${e.message}"`);
    }
    return e;
  }
  throw new Error(`expected ${type.name} to be thrown`);
}

/** Rejects with an instance of `type` (optionally with a message part). */
export async function assertRejects(
  fn: () => Promise<unknown>,
  type: Ctor,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof type)) throw new Error(`expected ${type.name}, got ${e}`);
    if (includes !== undefined && !e.message.includes(includes)) {
      throw new Error(`expected message with "${includes}", got "${e.message}"`);
    }
    return e;
  }
  throw new Error(`expected ${type.name} to be rejected`);
}

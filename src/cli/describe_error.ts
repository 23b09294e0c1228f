/**
 * {@linkcode describeError}: the text the CLI prints for an error.
 *
 * @module
 */

/**
 * Renders an error and its `cause` chain, one cause per line (`caused by: …`), leaving out a
 * cause whose message an earlier line already contains and stopping after eight levels.
 *
 * @param error Anything thrown.
 * @returns The text.
 * @example Usage
 * ```ts
 * import { describeError } from "./describe_error.ts";
 * const text = describeError(new Error("Cannot fetch", { cause: new Error("refused") }));
 * console.assert(text === "Cannot fetch\n  caused by: refused");
 * ```
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const message = current instanceof Error ? current.message : String(current);
    if (!parts.some((p) => p.includes(message))) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join("\n  caused by: ");
}

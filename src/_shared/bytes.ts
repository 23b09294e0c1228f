/**
 * Byte helpers shared by every layer: reading a body into memory with a size bound, and joining
 * chunks. `src/_shared/` is the lowest layer: it imports nothing from the rest of `src/`.
 *
 * @module
 */

/**
 * Thrown by {@linkcode readBounded} when a body has more bytes than allowed. Each layer wraps it
 * into its own typed error (with the URL and what to do) before it reaches the user.
 */
export class BodyTooLargeError extends Error {
  /** The limit in bytes. */
  readonly limit: number;

  /**
   * @param limit The limit in bytes.
   */
  constructor(limit: number) {
    super(`body is larger than ${limit} bytes`);
    this.name = "BodyTooLargeError";
    this.limit = limit;
  }
}

/** Options for {@linkcode readBounded}. */
export interface ReadBoundedOptions {
  /**
   * Keep the first `limit` bytes and cancel the rest instead of failing (default `false`: a
   * longer body throws {@linkcode BodyTooLargeError}).
   */
  truncate?: boolean;
}

/**
 * Joins chunks into one array.
 *
 * @param chunks The chunks, in order.
 * @returns A new array holding all their bytes.
 * @example Usage
 * ```ts
 * import { concatBytes } from "./bytes.ts";
 * const all = concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])]);
 * console.assert(all.length === 3);
 * ```
 */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let total = 0;
  for (const chunk of chunks) total += chunk.byteLength;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * Reads a whole body into memory, at most `limit` bytes of it. Once the limit is passed the rest
 * of the body is cancelled and {@linkcode BodyTooLargeError} is thrown (or, with `truncate`, the
 * first `limit` bytes are returned). Errors of the stream itself propagate unchanged.
 *
 * @param source A stream, a response (its body is read), or `null` (an empty body).
 * @param limit Maximum number of bytes.
 * @param options `truncate` to keep a prefix instead of failing.
 * @returns The body bytes.
 * @throws {BodyTooLargeError} when the body is longer than `limit` and `truncate` is not set.
 * @example Usage
 * ```ts
 * import { readBounded } from "./bytes.ts";
 * const bytes = await readBounded(new Response("hello"), 1024);
 * console.assert(bytes.length === 5);
 * ```
 */
export async function readBounded(
  source: ReadableStream<Uint8Array> | Response | null,
  limit: number,
  options: ReadBoundedOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const body = source instanceof Response ? source.body : source;
  if (body === null) return new Uint8Array(0);
  const truncate = options.truncate ?? false;
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (!truncate || total < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      if (total + value.byteLength > limit) {
        if (!truncate) {
          await reader.cancel().catch(() => {});
          throw new BodyTooLargeError(limit);
        }
        chunks.push(value.subarray(0, limit - total));
        total = limit;
      } else {
        chunks.push(value);
        total += value.byteLength;
      }
    }
    if (truncate && total >= limit) await reader.cancel().catch(() => {});
  } finally {
    reader.releaseLock();
  }
  return concatBytes(chunks);
}

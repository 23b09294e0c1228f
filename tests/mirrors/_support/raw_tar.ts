/**
 * Builds raw (possibly malicious) tar and tar.gz bytes for tests.
 *
 * @module
 */

/** One raw entry. */
export interface RawEntry {
  name: string;
  type?: "0" | "1" | "2" | "5" | "3";
  body?: string | Uint8Array;
  linkname?: string;
  mode?: number;
}

import { concatBytes } from "../../../src/_shared/bytes.ts";

const enc = new TextEncoder();

function put(b: Uint8Array, off: number, len: number, s: string): void {
  b.set(enc.encode(s).subarray(0, len), off);
}

/** Tar bytes for the entries (ustar, checksums valid). */
export function rawTar(entries: RawEntry[]): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const body = typeof e.body === "string" ? enc.encode(e.body) : e.body ?? new Uint8Array();
    const h = new Uint8Array(512);
    put(h, 0, 100, e.name);
    put(h, 100, 8, `${(e.mode ?? 0o644).toString(8).padStart(7, "0")}\0`);
    put(h, 108, 8, "0000000\0");
    put(h, 116, 8, "0000000\0");
    put(h, 124, 12, `${body.byteLength.toString(8).padStart(11, "0")}\0`);
    put(h, 136, 12, "00000000000\0");
    h.fill(32, 148, 156);
    put(h, 156, 1, e.type ?? "0");
    put(h, 157, 100, e.linkname ?? "");
    put(h, 257, 6, "ustar\0");
    put(h, 263, 2, "00");
    let sum = 0;
    for (const x of h) sum += x;
    put(h, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
    parts.push(h, body, new Uint8Array((512 - (body.byteLength % 512)) % 512));
  }
  parts.push(new Uint8Array(1024));
  return concatBytes(parts);
}

/** gzip of bytes. */
export async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const s = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

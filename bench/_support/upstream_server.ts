/**
 * Loopback upstream for `bench/proxy_bench.ts`, run as its own process so that its work and
 * memory stay out of the cache process being measured.
 *
 * Usage: `deno run --allow-read --allow-net=127.0.0.1 upstream_server.ts <file>`.
 * Listens on `127.0.0.1:0` and prints one JSON line, `{"port": <n>}`, once listening. Serves:
 *
 * - `GET /big.bin`: the bytes of `<file>` from `FsFile.readable`, with `Content-Length`;
 * - `GET /meta.json`: a fixed {@linkcode META_SIZE}-byte JSON document;
 * - anything else: 404.
 *
 * It runs until it is killed.
 *
 * @module
 */

/** Size in bytes of the `/meta.json` document. */
export const META_SIZE = 2048;

/**
 * A JSON document of exactly `size` bytes, shaped like a registry version listing.
 *
 * @param size Target length in bytes (at least 64).
 * @returns The UTF-8 bytes.
 */
export function metadataDocument(size: number = META_SIZE): Uint8Array<ArrayBuffer> {
  const versions = Array.from({ length: 16 }, (_, i) => ({ version: `1.${i}.0` }));
  const skeleton = JSON.stringify({ versions, padding: "" });
  const padding = "x".repeat(Math.max(0, size - skeleton.length));
  return new TextEncoder().encode(JSON.stringify({ versions, padding }));
}

if (import.meta.main) {
  const path = Deno.args[0];
  if (path === undefined) {
    console.error("Usage: upstream_server.ts <file>");
    Deno.exit(2);
  }
  const meta = metadataDocument();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/meta.json") {
      return new Response(meta, { headers: { "content-type": "application/json" } });
    }
    if (pathname === "/big.bin") {
      const file = await Deno.open(path, { read: true });
      const { size } = await file.stat();
      return new Response(file.readable, {
        headers: {
          "content-type": "application/octet-stream",
          "content-length": String(size),
        },
      });
    }
    return new Response("Not found\n", { status: 404 });
  });
  console.log(JSON.stringify({ port: server.addr.port }));
}

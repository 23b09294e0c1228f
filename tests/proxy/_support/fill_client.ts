/**
 * Child process for the multi-process tests: runs a cache handler on a cache directory and fires
 * concurrent requests for one key through it.
 *
 * Usage: `deno run --allow-all fill_client.ts '<json config>'` where the config is
 * `{ root, upstreamUrl, key, requests, waitForGo }`. With `waitForGo` it prints `ready` and waits
 * for a line on stdin before firing. It prints one JSON line with every response's status, size
 * and SHA-256.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { createCacheHandler } from "../../../src/proxy/cache_handler.ts";
import { FileStore } from "../../../src/proxy/file_store.ts";
import { plainUpstream, testMirror } from "./fixtures.ts";

interface Config {
  root: string;
  upstreamUrl: string;
  key: string;
  requests: number;
  waitForGo: boolean;
}

const config = JSON.parse(Deno.args[0] ?? "{}") as Config;
const handler = createCacheHandler({
  store: new FileStore(config.root),
  mirrors: [testMirror((path) => ({
    key: path,
    kind: "artifact",
    upstream: { url: config.upstreamUrl },
    contentType: "application/octet-stream",
  }))],
  upstream: plainUpstream,
  log: () => {},
});

if (config.waitForGo) {
  console.log("ready");
  const reader = Deno.stdin.readable.getReader();
  await reader.read();
  reader.releaseLock();
}

const results = await Promise.all(
  Array.from({ length: config.requests }, async () => {
    const response = await handler.handle(new Request(`http://127.0.0.1/${config.key}`));
    const hash = createHash("sha256");
    let size = 0;
    if (response.body) {
      for await (const chunk of response.body) {
        hash.update(chunk);
        size += chunk.byteLength;
      }
    }
    return { status: response.status, size, sha256: hash.digest("hex") };
  }),
);
await handler.shutdown();
console.log(JSON.stringify(results));

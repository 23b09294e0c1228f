/**
 * Serving while filling and post-commit annotations (cache_handler.ts, file_store.ts): waiters
 * get bytes before the upstream finished, never the whole object before the commit, an errored
 * body when the fill fails; HEAD is answered from the upstream headers; annotations land in the
 * sidecar after the commit and `shutdown()` waits for them.
 */

import assert from "node:assert/strict";
import { concatBytes } from "../../src/_shared/bytes.ts";
import { IntegrityError } from "../../src/proxy/errors.ts";
import {
  filesUnder,
  patternBytes,
  sha256Hex,
  startUpstream,
  type TestUpstream,
} from "./_support/fixtures.ts";
import { artifactRoute, withCache } from "./_support/cache_harness.ts";

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

/** An upstream that sends `body` up to `gateAt`, then waits for `open()` before the rest. */
interface GatedUpstream {
  upstream: TestUpstream;
  /** Lets the upstream send the rest. */
  open(): void;
  /** Resolves once the upstream has sent everything before the gate. */
  reachedGate: Promise<void>;
}

function gatedUpstream(body: Uint8Array, gateAt: number, withLength = true): GatedUpstream {
  const gate = Promise.withResolvers<void>();
  const reached = Promise.withResolvers<void>();
  const upstream = startUpstream(() => {
    let at = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (at >= body.byteLength) {
          controller.close();
          return;
        }
        if (at >= gateAt) {
          reached.resolve();
          await gate.promise;
        }
        const end = Math.min(body.byteLength, at + CHUNK, at < gateAt ? gateAt : Infinity);
        controller.enqueue(body.slice(at, end));
        at = end;
      },
    });
    const headers: Record<string, string> = { "content-type": "application/zip" };
    if (withLength) headers["content-length"] = String(body.byteLength);
    return new Response(stream, { headers });
  });
  // Closing opens the gate first, so that a failed test ends instead of hanging in shutdown.
  const close = () => {
    gate.resolve();
    return upstream.close();
  };
  return {
    upstream: { ...upstream, close },
    open: () => gate.resolve(),
    reachedGate: reached.promise,
  };
}

/** Reads from `reader` until at least `count` bytes arrived in total; returns them. */
async function readAtLeast(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  count: number,
  into: Uint8Array[] = [],
): Promise<number> {
  let total = into.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  while (total < count) {
    const { done, value } = await reader.read();
    if (done) break;
    into.push(value);
    total += value.byteLength;
  }
  return total;
}

/** `promise`, or a rejection with `message` after `ms` (so a regression fails, not hangs). */
async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  if (await settlesWithin(promise, ms)) return await promise;
  promise.then((value) => {
    if (value instanceof Response) void value.body?.cancel();
  }, () => {});
  throw new Error(message);
}

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  const settled = promise.then(() => true, () => true);
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("live fill: a GET waiter gets bytes before the upstream finished, then the whole object", async () => {
  const body = patternBytes(3 * MiB);
  const { upstream, open, reachedGate } = gatedUpstream(body, 2 * MiB);
  await withCache(upstream, artifactRoute(upstream, "z"), async ({ get, handler, store }) => {
    const response = await within(get("p/a.zip"), 5000, "no answer while the upstream waits");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-length"), String(body.byteLength));
    const reader = response.body!.getReader();
    const chunks: Uint8Array[] = [];
    const early = await readAtLeast(reader, MiB, chunks);
    await reachedGate;
    assert.ok(early >= MiB && early <= 2 * MiB, `${early} bytes before the gate`);
    assert.equal(await store.stat("p/a.zip"), undefined, "not committed while the upstream waits");
    open();
    await readAtLeast(reader, body.byteLength + 1, chunks);
    reader.releaseLock();
    assert.deepEqual(concatBytes(chunks), body);
    await handler.settled();
    assert.equal((await store.stat("p/a.zip"))?.sha256, await sha256Hex(body));
    assert.equal(upstream.count("/z"), 1);
    // The live body was the download itself; the next request is the first saving.
    assert.equal(handler.stats.hits, 0);
    const again = await get("p/a.zip");
    assert.deepEqual(await again.bytes(), body);
    assert.equal(handler.stats.hits, 1);
    assert.equal(handler.stats.bytesSaved, body.byteLength);
  });
});

for (const withLength of [true, false]) {
  const withheld = withLength ? 1 : 64 * 1024;
  Deno.test(`live fill: verify failing after all bytes arrived errors the body, stores nothing (${withLength ? "known" : "unknown"} length)`, async () => {
    const body = patternBytes(3 * MiB, 7);
    const { upstream, open } = gatedUpstream(body, body.byteLength, withLength);
    open();
    const verifying = Promise.withResolvers<number>();
    const reject = Promise.withResolvers<void>();
    const route = artifactRoute(upstream, "z", {
      verify: async (input) => {
        verifying.resolve(input.size);
        await reject.promise;
        throw new IntegrityError(`"${input.key}"`, "zh:abc", `zh:${input.sha256}`);
      },
    });
    await withCache(upstream, route, async ({ get, handler, root, store }) => {
      using _ = { [Symbol.dispose]: () => reject.resolve() };
      const response = await within(get("p/bad.zip"), 5000, "no answer while verify runs");
      assert.equal(response.status, 200);
      const reader = response.body!.getReader();
      const chunks: Uint8Array[] = [];
      assert.equal(await verifying.promise, body.byteLength, "every byte arrived");
      const served = await readAtLeast(reader, body.byteLength - withheld, chunks);
      assert.equal(served, body.byteLength - withheld);
      // Nothing more comes while verify runs.
      const next = reader.read();
      assert.equal(await settlesWithin(next, 100), false);
      reject.resolve();
      await assert.rejects(next, /the fill failed: Cannot verify/);
      reader.releaseLock();
      await handler.settled();
      assert.equal(await store.stat("p/bad.zip"), undefined);
      assert.deepEqual((await filesUnder(root)).filter((p) => !p.endsWith(".lock")), []);
      assert.equal(handler.stats.objectsCached, 0);
    });
  });
}

Deno.test("live fill: HEAD on a miss is answered with the upstream Content-Length before the fill completes", async () => {
  const body = patternBytes(3 * MiB, 3);
  const { upstream, open, reachedGate } = gatedUpstream(body, 2 * MiB);
  await withCache(upstream, artifactRoute(upstream, "z"), async ({ get, handler, store }) => {
    const head = await within(
      get("p/h.zip", { method: "HEAD" }),
      5000,
      "no HEAD answer while the upstream waits",
    );
    assert.equal(head.status, 200);
    assert.equal(head.body, null);
    assert.equal(head.headers.get("content-length"), String(body.byteLength));
    assert.equal(head.headers.get("content-type"), "application/zip");
    await reachedGate;
    assert.equal(await store.stat("p/h.zip"), undefined, "the fill is still running");
    // The GET that follows joins the same fill.
    const response = await get("p/h.zip");
    open();
    assert.deepEqual(await response.bytes(), body);
    await handler.settled();
    assert.equal(upstream.count("/z"), 1);
    assert.equal(handler.stats.hits, 0);
    assert.equal((await store.stat("p/h.zip"))?.size, body.byteLength);
  });
});

Deno.test("live fill: HEAD without an upstream Content-Length waits for the commit", async () => {
  const body = patternBytes(2 * MiB, 5);
  const { upstream, open, reachedGate } = gatedUpstream(body, 3 * CHUNK * 8, false);
  await withCache(upstream, artifactRoute(upstream, "z"), async ({ get, store }) => {
    const head = get("p/n.zip", { method: "HEAD" });
    await reachedGate;
    assert.equal(await settlesWithin(head, 100), false);
    open();
    const answer = await head;
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get("content-length"), String(body.byteLength));
    assert.equal(answer.headers.get("etag"), `"${(await store.stat("p/n.zip"))?.sha256}"`);
  });
});

Deno.test("live fill: two waiters finish and one leaving mid-stream does not cancel the fill", async () => {
  const body = patternBytes(4 * MiB, 9);
  const { upstream, open, reachedGate } = gatedUpstream(body, 2 * MiB);
  await withCache(upstream, artifactRoute(upstream, "z"), async ({ get, handler, store }) => {
    const responses = await within(
      Promise.all([get("p/t.zip"), get("p/t.zip"), get("p/t.zip")]),
      5000,
      "no answers while the upstream waits",
    );
    const readers = responses.map((r) => r.body!.getReader());
    const chunks: Uint8Array[][] = [[], [], []];
    await Promise.all(readers.map((reader, i) => readAtLeast(reader, MiB, chunks[i])));
    await reachedGate;
    await readers[2]!.cancel("client left");
    open();
    for (const i of [0, 1]) {
      await readAtLeast(readers[i]!, body.byteLength + 1, chunks[i]);
      readers[i]!.releaseLock();
      assert.deepEqual(concatBytes(chunks[i]!), body);
    }
    await handler.settled();
    assert.equal(upstream.count("/z"), 1);
    assert.equal((await store.stat("p/t.zip"))?.sha256, await sha256Hex(body));
    assert.equal(handler.stats.objectsCached, 1);
  });
});

Deno.test("live fill: a Range request during a fill waits for the commit", async () => {
  const body = patternBytes(2 * MiB, 11);
  const { upstream, open, reachedGate } = gatedUpstream(body, 3 * MiB / 2);
  await withCache(upstream, artifactRoute(upstream, "z"), async ({ get }) => {
    const first = await within(get("p/r.zip"), 5000, "no answer while the upstream waits");
    const ranged = get("p/r.zip", { headers: { range: "bytes=10-19" } });
    await reachedGate;
    assert.equal(await settlesWithin(ranged, 100), false);
    open();
    const answer = await ranged;
    assert.equal(answer.status, 206);
    assert.deepEqual(await answer.bytes(), body.slice(10, 20));
    assert.deepEqual(await first.bytes(), body);
  });
});

Deno.test("annotate: fields land in the sidecar after the commit; shutdown waits for them", async () => {
  const body = patternBytes(1000, 13);
  const upstream = startUpstream(() => new Response(body));
  const started = Promise.withResolvers<string>();
  const finish = Promise.withResolvers<void>();
  const route = artifactRoute(upstream, "z", {
    annotate: async (input) => {
      started.resolve(input.path);
      await finish.promise;
      const bytes = await Deno.readFile(input.path);
      return { note: `${input.size}:${bytes.byteLength}`, sha: input.sha256 };
    },
  });
  await withCache(upstream, route, async ({ get, handler, store, root }) => {
    using _ = { [Symbol.dispose]: () => finish.resolve() };
    const response = await get("p/n.bin");
    assert.deepEqual(await response.bytes(), body);
    assert.equal(await started.promise, `${root}/p/n.bin`);
    const before = await store.stat("p/n.bin");
    assert.equal(before?.extra["note"], undefined, "served before the annotation");
    const idle = handler.idle("p/n.bin");
    const shutdown = handler.shutdown();
    assert.equal(await settlesWithin(shutdown, 100), false, "shutdown waits for the annotation");
    assert.equal(await settlesWithin(idle, 0), false);
    finish.resolve();
    await shutdown;
    await idle;
    const after = await store.stat("p/n.bin");
    assert.equal(after?.extra["note"], "1000:1000");
    assert.equal(after?.extra["sha"], await sha256Hex(body));
    assert.equal(after?.sha256, before?.sha256);
    assert.equal(after?.fetchedAt.getTime(), before?.fetchedAt.getTime());
  });
});

Deno.test("annotate: a failing hook is logged and leaves the object servable", async () => {
  const upstream = startUpstream(() => new Response("payload"));
  const route = artifactRoute(upstream, "z", {
    annotate: () => Promise.reject(new Error("zip is unreadable")),
  });
  await withCache(upstream, route, async ({ get, handler, logs }) => {
    assert.equal(await (await get("p/f.bin")).text(), "payload");
    await handler.settled();
    assert.ok(logs.some((l) => /warn: Cannot annotate "p\/f.bin": zip is unreadable/.test(l)));
    assert.equal(await (await get("p/f.bin")).text(), "payload");
  });
});

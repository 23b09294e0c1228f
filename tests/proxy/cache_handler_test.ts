import assert from "node:assert/strict";
import { createCacheHandler } from "../../src/proxy/cache_handler.ts";
import { HttpError, IntegrityError } from "../../src/proxy/errors.ts";
import { FileStore } from "../../src/proxy/file_store.ts";
import { serveHttp } from "../../src/proxy/http_server.ts";
import {
  filesUnder,
  patternBytes,
  plainUpstream,
  sha256Hex,
  startUpstream,
  testMirror,
} from "./_support/fixtures.ts";
import { artifactRoute, BASE, withCache } from "./_support/cache_harness.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const MINUTE = 60 * 1000;
const FILL_CLIENT = new URL("./_support/fill_client.ts", import.meta.url).pathname;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Files that are objects or sidecars (not lock files). */
async function visibleFiles(root: string): Promise<string[]> {
  return (await filesUnder(root)).filter((path) => !path.endsWith(".lock"));
}

function refusedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

Deno.test("cache handler: miss then hit with stats", async () => {
  const body = patternBytes(1000);
  const upstream = startUpstream(() =>
    new Response(body, { headers: { "content-type": "application/zip" } })
  );
  await withCache(upstream, artifactRoute(upstream), async ({ get, handler, store }) => {
    const first = await get("p/a.zip");
    assert.equal(first.status, 200);
    assert.deepEqual(await first.bytes(), body);
    const second = await get("p/a.zip");
    assert.equal(second.status, 200);
    assert.equal(second.headers.get("content-type"), "application/zip");
    assert.equal(second.headers.get("content-length"), "1000");
    assert.equal(second.headers.get("etag"), `"${await sha256Hex(body)}"`);
    assert.deepEqual(await second.bytes(), body);
    assert.equal(upstream.count("/obj.bin"), 1);
    assert.deepEqual(handler.stats.toJSON(), {
      hits: 1,
      bytesSaved: 1000,
      misses: 1,
      objectsCached: 1,
      bytesCached: 1000,
      upstreamRequests: 1,
      upstreamBytes: 1000,
      errors: 0,
      staleServed: 0,
      revalidations: 0,
    });
    assert.equal(
      handler.stats.formatReport(),
      "1.0 kB saved (1 hit); 1.0 kB downloaded and cached (1 object)",
    );
    assert.equal((await store.stat("p/a.zip"))?.kind, "artifact");
  });
});

Deno.test("cache handler: a hit cut short counts only the bytes delivered", async () => {
  const body = patternBytes(400 * 1024);
  const upstream = startUpstream(() => new Response(body));
  await withCache(upstream, artifactRoute(upstream), async ({ get, handler }) => {
    await (await get("p/big")).bytes();
    const hit = await get("p/big");
    const reader = hit.body!.getReader();
    const { value } = await reader.read();
    await reader.cancel();
    assert.equal(handler.stats.hits, 1);
    assert.equal(handler.stats.bytesSaved, value!.byteLength);
    assert.ok(handler.stats.bytesSaved < body.byteLength);
  });
});

Deno.test("cache handler: 12 concurrent cold requests make one upstream fetch", async () => {
  const body = patternBytes(64 * 1024, 7);
  const upstream = startUpstream(async () => {
    await delay(20);
    return new Response(body);
  });
  await withCache(upstream, artifactRoute(upstream), async ({ get, handler }) => {
    const responses = await Promise.all(Array.from({ length: 12 }, () => get("p/c.bin")));
    for (const response of responses) {
      assert.equal(response.status, 200);
      assert.deepEqual(await response.bytes(), body);
    }
    assert.equal(upstream.count("/obj.bin"), 1);
    assert.equal(handler.stats.misses, 1);
    assert.equal(handler.stats.hits, 0);
  });
});

Deno.test("cache handler: 12 waiters on a 700 ms upstream all get 200", async () => {
  const upstream = startUpstream(async () => {
    await delay(700);
    return new Response("slow but fine");
  });
  await withCache(upstream, artifactRoute(upstream), async ({ get }) => {
    const responses = await Promise.all(Array.from({ length: 12 }, () => get("p/slow")));
    for (const response of responses) {
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "slow but fine");
    }
    assert.equal(upstream.count("/obj.bin"), 1);
  });
});

Deno.test("cache handler: upstream non-2xx reaches all 8 waiters and is not cached", async () => {
  const upstream = startUpstream(async () => {
    await delay(30);
    return new Response("no such provider", { status: 404, headers: { "x-upstream": "yes" } });
  });
  await withCache(upstream, artifactRoute(upstream), async ({ get, root, store, handler }) => {
    const responses = await Promise.all(Array.from({ length: 8 }, () => get("p/missing")));
    for (const response of responses) {
      assert.equal(response.status, 404);
      assert.equal(response.headers.get("x-upstream"), "yes");
      assert.equal(await response.text(), "no such provider");
    }
    assert.equal(upstream.count("/obj.bin"), 1);
    assert.equal(await store.stat("p/missing"), undefined);
    assert.deepEqual(await visibleFiles(root), []);
    assert.equal(handler.stats.misses, 1);
    assert.equal(handler.stats.objectsCached, 0);
    const again = await get("p/missing");
    assert.equal(again.status, 404);
    await again.body?.cancel();
    assert.equal(upstream.count("/obj.bin"), 2);
  });
});

Deno.test("cache handler: verify failure answers 502 and commits nothing", async () => {
  const upstream = startUpstream(() => new Response("tampered"));
  await withCache(
    upstream,
    (path) => ({
      key: path,
      kind: "artifact",
      upstream: { url: upstream.url + "z.zip" },
      verify: (input) => {
        throw new IntegrityError(`"${input.key}"`, "zh:abc", `zh:${input.sha256}`);
      },
    }),
    async ({ get, root, store }) => {
      const response = await get("p/z.zip");
      assert.equal(response.status, 502);
      assert.match(
        await response.text(),
        /Cannot cache "p\/z.zip": Cannot verify .*expected checksum zh:abc/,
      );
      assert.equal(await store.stat("p/z.zip"), undefined);
      assert.deepEqual(await visibleFiles(root), []);
    },
  );
});

Deno.test("cache handler: a client leaving mid-fill does not cancel the shared fill", async () => {
  const { promise: gate, resolve: openGate } = Promise.withResolvers<void>();
  const { promise: started, resolve: onStart } = Promise.withResolvers<void>();
  const upstream = startUpstream(() => {
    onStart();
    let sent = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent === 1) await gate;
          if (sent++ < 3) controller.enqueue(enc.encode(`part${sent};`));
          else controller.close();
        },
      }),
    );
  });
  await withCache(upstream, artifactRoute(upstream), async ({ get, handler }) => {
    const client = new AbortController();
    const leaving = get("p/d", { signal: client.signal });
    await started;
    client.abort();
    const left = await leaving;
    assert.equal(left.status, 503);
    await left.body?.cancel();
    openGate();
    await handler.settled();
    const next = await get("p/d");
    assert.equal(next.status, 200);
    assert.equal(await next.text(), "part1;part2;part3;");
    assert.equal(upstream.count("/obj.bin"), 1);
    // The first body served from a fill is the download itself, not a saving.
    assert.equal(handler.stats.hits, 0);
    assert.equal(handler.stats.objectsCached, 1);
    const again = await get("p/d");
    assert.equal(await again.text(), "part1;part2;part3;");
    assert.equal(handler.stats.hits, 1);
  });
});

Deno.test("cache handler: a GET after the HEAD that filled an object is not counted as saved", async () => {
  const upstream = startUpstream(() => new Response("part1;part2;part3;"));
  await withCache(upstream, artifactRoute(upstream), async ({ handler, get }) => {
    const head = await get("p/h", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "18");
    const first = await get("p/h");
    assert.equal(await first.text(), "part1;part2;part3;");
    assert.equal(handler.stats.hits, 0, "the object was downloaded by this run");
    assert.equal(handler.stats.bytesSaved, 0);
    const second = await get("p/h");
    assert.equal(await second.text(), "part1;part2;part3;");
    assert.equal(handler.stats.hits, 1);
    assert.equal(handler.stats.bytesSaved, 18);
    assert.equal(upstream.count("/obj.bin"), 1);
  });
});

Deno.test("cache handler: produce and produceArtifact run once for two requests", async () => {
  const upstream = startUpstream(() => new Response(JSON.stringify({ versions: ["1.0.0"] })));
  let produced = 0;
  let generated = 0;
  await withCache(
    upstream,
    (path) =>
      path.endsWith(".json")
        ? {
          key: path,
          kind: "metadata",
          produce: async (ctx) => {
            produced++;
            const listing = await (await ctx.fetch(upstream.url + "versions")).json();
            return {
              body: enc.encode(JSON.stringify({ composed: listing.versions })),
              contentType: "application/json",
              extra: { source: "produce" },
            };
          },
        }
        : {
          key: path,
          kind: "artifact",
          produceArtifact: () => {
            generated++;
            return Promise.resolve({
              stream: ReadableStream.from([enc.encode("tar"), enc.encode("ball")]),
              contentType: "application/gzip",
            });
          },
        },
    async ({ get, store, handler }) => {
      for (let i = 0; i < 2; i++) {
        const meta = await get("m/index.json");
        assert.equal(meta.headers.get("content-type"), "application/json");
        assert.deepEqual(await meta.json(), { composed: ["1.0.0"] });
        const art = await get("m/source.tar.gz");
        assert.equal(art.headers.get("content-type"), "application/gzip");
        assert.equal(await art.text(), "tarball");
      }
      assert.equal(produced, 1);
      assert.equal(generated, 1);
      assert.equal(upstream.count("/versions"), 1);
      assert.deepEqual((await store.stat("m/index.json"))?.extra, { source: "produce" });
      assert.equal(handler.stats.hits, 2);
    },
  );
});

Deno.test("cache handler: serve hook renders cached bytes with the live base URL", async () => {
  const upstream = startUpstream(() => new Response("_source/abc.tar.gz"));
  await withCache(
    upstream,
    (path) => ({
      key: path,
      kind: "metadata",
      upstream: { url: upstream.url + "download" },
      serve: async (object, ctx) =>
        new Response(null, {
          status: 204,
          headers: {
            "X-Terraform-Get": new URL(dec.decode(await object.bytes()), ctx.baseUrl).href,
          },
        }),
    }),
    async ({ get }) => {
      for (let i = 0; i < 2; i++) {
        const response = await get("modules/x/1.0.0/download");
        assert.equal(response.status, 204);
        assert.equal(response.headers.get("x-terraform-get"), `${BASE}_source/abc.tar.gz`);
      }
      assert.equal(upstream.count("/download"), 1);
    },
  );
});

Deno.test("cache handler: passthrough replays status and rewritten headers, caches nothing", async () => {
  const upstream = startUpstream(() =>
    new Response(null, {
      status: 204,
      headers: { "X-Terraform-Get": "https://upstream.example/archive.tgz" },
    })
  );
  let rewriteBase: URL | undefined;
  await withCache(
    upstream,
    () => ({
      key: "",
      kind: "passthrough",
      upstream: { url: upstream.url + "other" },
      headerRewrite: (headers, baseUrl) => {
        rewriteBase = baseUrl;
        headers.set("X-Terraform-Get", new URL("rewritten.tgz", baseUrl).href);
      },
    }),
    async ({ get, root }) => {
      for (let i = 0; i < 2; i++) {
        const response = await get("modules/x/other");
        assert.equal(response.status, 204);
        assert.equal(response.headers.get("x-terraform-get"), `${BASE}rewritten.tgz`);
      }
      assert.equal(rewriteBase?.href, BASE);
      assert.equal(upstream.count("/other"), 2);
      assert.deepEqual(await filesUnder(root), []);
    },
  );
});

Deno.test("cache handler: passthrough to a refused port answers 502", async () => {
  const port = refusedPort();
  await withCache(
    undefined,
    () => ({ key: "", kind: "passthrough", upstream: { url: `http://127.0.0.1:${port}/x` } }),
    async ({ get }) => {
      const response = await get("anything");
      assert.equal(response.status, 502);
      assert.match(
        await response.text(),
        /^Cannot pass through to "http:\/\/127\.0\.0\.1:\d+\/x": /,
      );
    },
  );
});

Deno.test("cache handler: routing errors, unknown paths and methods", async () => {
  const root = await Deno.makeTempDir({ prefix: "tfcache-handler-" });
  const handler = createCacheHandler({
    store: new FileStore(root),
    mirrors: [{
      name: "only-p",
      handles: (path) => path.startsWith("p/"),
      route: (_request, path) => {
        if (path === "p/unknown") throw new HttpError(404, `Cannot find provider "${path}"`);
        if (path === "p/bad-key") return Promise.resolve({ key: "../escape", kind: "artifact" });
        throw new Error("Discovery failed");
      },
    }],
    upstream: plainUpstream,
    pathPrefix: "/s3cr3t",
    log: () => {},
  });
  try {
    const ask = async (path: string, method = "GET") => {
      const response = await handler.handle(new Request(`http://cache.test${path}`, { method }));
      return [response.status, (await response.text()).trim()];
    };
    assert.deepEqual(await ask("/s3cr3t/p/unknown"), [404, 'Cannot find provider "p/unknown"']);
    assert.deepEqual(await ask("/s3cr3t/p/boom"), [502, 'Cannot route "p/boom": Discovery failed']);
    assert.deepEqual(await ask("/s3cr3t/q/x"), [404, 'No mirror handles "q/x"']);
    assert.deepEqual(await ask("/elsewhere/p/x"), [404, "Not found"]);
    assert.deepEqual(await ask("/s3cr3t"), [404, "Not found"]);
    assert.equal((await ask("/s3cr3t/p/bad-key"))[0], 400);
    assert.equal((await ask("/s3cr3t/p/x", "POST"))[0], 405);
    assert.deepEqual(await filesUnder(root), []);
  } finally {
    await handler.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cache handler: hostile paths over a real socket get 4xx and write nothing", async () => {
  const root = await Deno.makeTempDir({ prefix: "tfcache-handler-" });
  let routed = 0;
  const handler = createCacheHandler({
    store: new FileStore(root),
    mirrors: [testMirror((path) => {
      routed++;
      return { key: path, kind: "artifact", produce: () => Promise.reject(new Error("No")) };
    })],
    upstream: plainUpstream,
    pathPrefix: "/s3cr3t/",
    log: () => {},
  });
  const server = serveHttp({ handler });
  try {
    const raw = async (target: string): Promise<number> => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      await conn.write(
        enc.encode(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
      );
      const chunks: number[] = [];
      for await (const chunk of conn.readable) chunks.push(...chunk);
      const head = dec.decode(new Uint8Array(chunks)).split("\r\n")[0] ?? "";
      return Number(head.split(" ")[1]);
    };
    const targets = [
      "/s3cr3t/../etc/passwd",
      "/s3cr3t/a/../../etc/passwd",
      "/s3cr3t/%2e%2e/%2e%2e/etc/passwd",
      "/s3cr3t/a/%2E%2e/b",
      "/s3cr3t/a%2fb",
      "/s3cr3t/..%2f..%2fetc",
      "/s3cr3t//etc/passwd",
      "/s3cr3t/a%00b",
      "/s3cr3t/a\\..\\..\\b",
      "/s3cr3t/a%5cb",
      `/s3cr3t/${"x".repeat(5000)}`,
      "/etc/passwd",
      "/s3cr3t/.tmp-1/x",
      "/s3cr3t/a/b.lock",
      "/s3cr3t/a/b.metadata.json",
    ];
    for (const target of targets) {
      const status = await raw(target);
      assert.ok(status >= 400 && status < 500, `${target.slice(0, 40)} answered ${status}`);
    }
    // Only the last three reach a mirror (their keys are then refused by the store).
    assert.equal(routed, 3);
    assert.deepEqual(await filesUnder(root), []);
  } finally {
    await handler.shutdown();
    await server.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cache handler: HEAD, Range and ETag on cached objects", async () => {
  const body = enc.encode("0123456789");
  const upstream = startUpstream(() => new Response(body));
  await withCache(upstream, artifactRoute(upstream), async ({ handler, get }) => {
    await (await get("p/r")).bytes();
    const server = serveHttp({ handler });
    try {
      const url = `${server.url}p/r`;
      const head = await fetch(url, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-length"), "10");
      assert.equal(await head.text(), "");
      const etag = head.headers.get("etag")!;
      assert.equal(etag, `"${await sha256Hex(body)}"`);

      const ranges: Array<[string, number, string, string | null]> = [
        ["bytes=2-5", 206, "2345", "bytes 2-5/10"],
        ["bytes=7-", 206, "789", "bytes 7-9/10"],
        ["bytes=-3", 206, "789", "bytes 7-9/10"],
        ["bytes=8-100", 206, "89", "bytes 8-9/10"],
        ["bytes=0-1,4-5", 200, "0123456789", null],
        ["items=1-2", 200, "0123456789", null],
      ];
      for (const [range, status, text, contentRange] of ranges) {
        const response = await fetch(url, { headers: { range } });
        assert.equal(response.status, status, range);
        assert.equal(response.headers.get("content-range"), contentRange, range);
        assert.equal(await response.text(), text, range);
      }
      const unsatisfiable = await fetch(url, { headers: { range: "bytes=10-20" } });
      assert.equal(unsatisfiable.status, 416);
      assert.equal(unsatisfiable.headers.get("content-range"), "bytes */10");
      await unsatisfiable.body?.cancel();

      const notModified = await fetch(url, { headers: { "if-none-match": `W/"x", ${etag}` } });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.headers.get("etag"), etag);
      await notModified.body?.cancel();
      const modified = await fetch(url, { headers: { "if-none-match": '"other"' } });
      assert.equal(modified.status, 200);
      assert.equal(await modified.text(), "0123456789");
      const staleIfRange = await fetch(url, {
        headers: { range: "bytes=0-1", "if-range": '"old"' },
      });
      assert.equal(staleIfRange.status, 200);
      await staleIfRange.body?.cancel();
    } finally {
      await server.close();
    }
    assert.equal(upstream.count("/obj.bin"), 1);
  });
});

Deno.test("cache handler: stale metadata is served at once and revalidated in the background", async () => {
  let now = Date.parse("2026-03-01T00:00:00Z");
  const clock = () => now;
  const upstream = startUpstream(async (_request, n) => {
    if (n > 1) await delay(600);
    return new Response(`{"v":${n}}`, { headers: { "content-type": "application/json" } });
  });
  await withCache(
    upstream,
    (path) => ({ key: path, kind: "metadata", upstream: { url: upstream.url + "index.json" } }),
    async ({ get, handler, store }) => {
      assert.equal(await (await get("p/index.json")).text(), '{"v":1}');
      now += 11 * MINUTE;
      const started = performance.now();
      const stale = await get("p/index.json");
      assert.equal(await stale.text(), '{"v":1}');
      assert.ok(performance.now() - started < 300, "the client did not wait for upstream");
      assert.equal(stale.headers.get("x-tfcache-stale"), "1");
      assert.equal(handler.stats.revalidations, 1);
      // A second stale request does not start another revalidation.
      await (await get("p/index.json")).bytes();
      assert.equal(handler.stats.revalidations, 1);
      await handler.settled();
      assert.equal(upstream.count("/index.json"), 2);
      const info = await store.stat("p/index.json");
      assert.equal(info?.size, 7);
      assert.equal(info?.fetchedAt.getTime(), now);
      const fresh = await get("p/index.json");
      assert.equal(await fresh.text(), '{"v":2}');
      assert.equal(fresh.headers.get("x-tfcache-stale"), null);
    },
    {
      now: clock,
      storeNow: clock,
      metadataTtlMs: 10 * MINUTE,
      staleWhileRevalidateMs: 60 * MINUTE,
    },
  );
});

Deno.test("cache handler: stale-if-error serves stale metadata on 500 and refused connections", async () => {
  let now = Date.parse("2026-03-01T00:00:00Z");
  const clock = () => now;
  const upstream = startUpstream((_request, n) =>
    n === 1 ? new Response('{"ok":1}') : new Response("upstream broke", { status: 500 })
  );
  let target = upstream.url + "index.json";
  const refused = `http://127.0.0.1:${refusedPort()}/index.json`;
  await withCache(
    upstream,
    (path) => ({ key: path, kind: "metadata", upstream: { url: target } }),
    async ({ get, handler, logs }) => {
      assert.equal(await (await get("p/index.json")).text(), '{"ok":1}');
      now += 20 * MINUTE; // past TTL, no SWR, inside stale-if-error
      const on500 = await get("p/index.json");
      assert.equal(on500.status, 200);
      assert.equal(on500.headers.get("x-tfcache-stale"), "1");
      assert.match(on500.headers.get("warning") ?? "", /^110 /);
      assert.equal(await on500.text(), '{"ok":1}');
      target = refused;
      const onRefused = await get("p/index.json");
      assert.equal(onRefused.status, 200);
      assert.equal(await onRefused.text(), '{"ok":1}');
      assert.equal(handler.stats.staleServed, 2);
      assert.ok(logs.some((line) => line.startsWith("warn: Serving stale")));
      now += 2 * 60 * MINUTE; // beyond stale-if-error
      const tooOld = await get("p/index.json");
      assert.equal(tooOld.status, 502);
      await tooOld.body?.cancel();
      target = upstream.url + "index.json";
      const replayed = await get("p/index.json");
      assert.equal(replayed.status, 500);
      assert.equal(await replayed.text(), "upstream broke");
    },
    {
      now: clock,
      storeNow: clock,
      metadataTtlMs: 10 * MINUTE,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 60 * MINUTE,
    },
  );
});

Deno.test("cache handler: shutdown refuses new fills and waits for in-flight ones", async () => {
  const { promise: started, resolve: onStart } = Promise.withResolvers<void>();
  const { promise: cancelled, resolve: onCancel } = Promise.withResolvers<void>();
  const upstream = startUpstream(() => {
    onStart();
    let sent = false;
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) return new Promise(() => {}); // stalls until the fill is aborted
          sent = true;
          controller.enqueue(enc.encode("partial"));
        },
        cancel: () => onCancel(),
      }),
    );
  });
  await withCache(upstream, artifactRoute(upstream), async ({ get, handler, root }) => {
    const inFlight = get("p/never");
    await started;
    let shutDown = false;
    const shutdown = handler.shutdown().then(() => shutDown = true);
    const answer = await inFlight;
    assert.equal(answer.status, 503);
    assert.match(await answer.text(), /shutting down/);
    await shutdown;
    assert.equal(shutDown, true);
    const refused = await get("p/other");
    assert.equal(refused.status, 503);
    await refused.body?.cancel();
    assert.deepEqual(await visibleFiles(root), []);
    await cancelled;
  });
});

async function readLine(reader: ReadableStreamDefaultReader<string>, buffer: { text: string }) {
  while (!buffer.text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`Child ended before a full line: "${buffer.text}"`);
    buffer.text += value;
  }
  const at = buffer.text.indexOf("\n");
  const line = buffer.text.slice(0, at);
  buffer.text = buffer.text.slice(at + 1);
  return line;
}

Deno.test("cache handler: 4 processes x 25 requests on one cold key make one upstream fetch", async () => {
  const body = patternBytes(4 * 1024 * 1024, 99);
  const expected = await sha256Hex(body);
  const upstream = startUpstream(async () => {
    await delay(150);
    const chunks = Array.from(
      { length: 16 },
      (_, i) => body.subarray(i * 262144, (i + 1) * 262144),
    );
    return new Response(ReadableStream.from(chunks));
  });
  const root = await Deno.makeTempDir({ prefix: "tfcache-procs-" });
  try {
    const config = {
      root,
      upstreamUrl: upstream.url + "big.bin",
      key: "objects/big.bin",
      requests: 25,
      waitForGo: true,
    };
    const children = Array.from({ length: 4 }, () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", FILL_CLIENT, JSON.stringify(config)],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn());
    const readers = children.map((child) => ({
      reader: child.stdout.pipeThrough(new TextDecoderStream()).getReader(),
      buffer: { text: "" },
    }));
    for (const { reader, buffer } of readers) assert.equal(await readLine(reader, buffer), "ready");
    await Promise.all(children.map(async (child) => {
      const writer = child.stdin.getWriter();
      await writer.write(enc.encode("go\n"));
      await writer.close();
    }));
    const results = await Promise.all(
      readers.map(({ reader, buffer }) => readLine(reader, buffer)),
    );
    for (const { reader } of readers) {
      while (!(await reader.read()).done) { /* drain */ }
    }
    const statuses = await Promise.all(children.map((child) => child.status));
    assert.ok(statuses.every((status) => status.success));
    const all = results.flatMap((line) =>
      JSON.parse(line) as Array<{ status: number; size: number; sha256: string }>
    );
    assert.equal(all.length, 100);
    for (const result of all) {
      assert.deepEqual(result, { status: 200, size: body.byteLength, sha256: expected });
    }
    assert.equal(upstream.count("/big.bin"), 1);
    assert.deepEqual(await visibleFiles(root), [
      "objects/big.bin",
      "objects/big.bin.metadata.json",
    ]);
  } finally {
    await upstream.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cache handler: a fill killed with SIGKILL half-way leaves nothing visible", async () => {
  const body = patternBytes(1024 * 1024, 5);
  const { promise: halfway, resolve: onHalfway } = Promise.withResolvers<void>();
  const { promise: release, resolve: releaseStall } = Promise.withResolvers<void>();
  const upstream = startUpstream((_request, n) => {
    if (n > 1) return new Response(body);
    let sent = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent === 8) {
            onHalfway();
            await release;
            return;
          }
          controller.enqueue(body.subarray(sent * 65536, ++sent * 65536));
        },
      }),
    );
  });
  const root = await Deno.makeTempDir({ prefix: "tfcache-kill-" });
  const store = new FileStore(root);
  const handler = createCacheHandler({
    store,
    mirrors: [
      testMirror((path) => ({
        key: path,
        kind: "artifact",
        upstream: { url: upstream.url + "slow.bin" },
      })),
    ],
    upstream: plainUpstream,
    log: () => {},
  });
  try {
    const config = {
      root,
      upstreamUrl: upstream.url + "slow.bin",
      key: "objects/slow.bin",
      requests: 1,
      waitForGo: false,
    };
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", FILL_CLIENT, JSON.stringify(config)],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await halfway;
    // Give the child a moment to write what it received to its staging file.
    let staged: string[] = [];
    for (let i = 0; i < 100 && staged.length === 0; i++) {
      staged = (await filesUnder(root)).filter((path) => path.includes("/.tmp-"));
      if (staged.length === 0) await delay(10);
    }
    assert.equal(staged.length, 1);
    child.kill("SIGKILL");
    const status = await child.status;
    assert.equal(status.success, false);
    releaseStall();

    assert.equal(await store.stat("objects/slow.bin"), undefined);
    assert.deepEqual(await visibleFiles(root), staged);
    assert.deepEqual(await Array.fromAsync(store.list()), []);

    const response = await handler.handle(new Request("http://cache.test/objects/slow.bin"));
    assert.equal(response.status, 200);
    assert.equal(await sha256Hex(await response.bytes()), await sha256Hex(body));
    assert.equal(upstream.count("/slow.bin"), 2);
    assert.equal(await store.sweep(0), 1);
    assert.deepEqual(await visibleFiles(root), [
      "objects/slow.bin",
      "objects/slow.bin.metadata.json",
    ]);
  } finally {
    releaseStall();
    await handler.shutdown();
    await upstream.close();
    await Deno.remove(root, { recursive: true });
  }
});

import assert from "node:assert/strict";
import https from "node:https";
import { serveHttps } from "../../src/proxy/https_server.ts";
import { generateServerCertificate } from "../../src/proxy/tls.ts";

const { certPem: cert, keyPem: key } = await generateServerCertificate();

function client(): Deno.HttpClient {
  return Deno.createHttpClient({ caCerts: [cert] });
}

/** A stream of `count` chunks of `size` bytes, each filled with its index. */
function chunkStream(count: number, size: number, onCancel?: () => void) {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i === count) return controller.close();
      controller.enqueue(new Uint8Array(size).fill(i++ & 0xff));
    },
    cancel() {
      onCancel?.();
    },
  });
}

Deno.test("serveHttps answers over TLS with the generated certificate", async () => {
  await using server = await serveHttps({
    cert,
    key,
    handler: (req) =>
      Promise.resolve(
        Response.json(
          { method: req.method, url: req.url, custom: req.headers.get("x-custom") },
          { headers: { "x-answer": "42" } },
        ),
      ),
  });
  assert.equal(server.url.protocol, "https:");
  assert.equal(server.url.hostname, "127.0.0.1");
  using http = client();
  const res = await fetch(new URL("/v1/hello?x=1", server.url), {
    client: http,
    headers: { "x-custom": "yes" },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-answer"), "42");
  assert.deepEqual(await res.json(), {
    method: "GET",
    url: `https://127.0.0.1:${server.port}/v1/hello?x=1`,
    custom: "yes",
  });
});

Deno.test("serveHttps passes request bodies and multi-valued set-cookie", async () => {
  await using server = await serveHttps({
    cert,
    key,
    handler: async (req) => {
      const text = await req.text();
      const headers = new Headers();
      headers.append("set-cookie", "a=1");
      headers.append("set-cookie", "b=2");
      return new Response(`got ${text}`, { status: 201, headers });
    },
  });
  using http = client();
  const res = await fetch(server.url, { client: http, method: "POST", body: "payload" });
  assert.equal(res.status, 201);
  assert.deepEqual(res.headers.getSetCookie(), ["a=1", "b=2"]);
  assert.equal(await res.text(), "got payload");
});

Deno.test("serveHttps turns a handler error into a 500 and reports it", async () => {
  const errors: unknown[] = [];
  await using server = await serveHttps({
    cert,
    key,
    handler: () => Promise.reject(new Error("boom")),
    onError: (error) => errors.push(error),
  });
  using http = client();
  const res = await fetch(server.url, { client: http });
  assert.equal(res.status, 500);
  await res.body?.cancel();
  assert.equal(errors.length, 1);
});

Deno.test("serveHttps streams a multi-MiB body intact", async () => {
  const chunks = 8 * 16; // 8 MiB in 64 KiB chunks
  await using server = await serveHttps({
    cert,
    key,
    handler: () => Promise.resolve(new Response(chunkStream(chunks, 65_536))),
  });
  using http = client();
  const res = await fetch(server.url, { client: http });
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.equal(bytes.length, chunks * 65_536);
  for (let i = 0; i < chunks; i++) assert.equal(bytes[i * 65_536 + 100], i & 0xff);
});

Deno.test("serveHttps cancels the body stream when the client disconnects", async () => {
  const cancelled = Promise.withResolvers<void>();
  const aborted = Promise.withResolvers<void>();
  await using server = await serveHttps({
    cert,
    key,
    handler: (req) => {
      req.signal.addEventListener("abort", () => aborted.resolve(), { once: true });
      // Endless body: only a cancel ends it.
      return Promise.resolve(new Response(chunkStream(Infinity, 16_384, cancelled.resolve)));
    },
  });
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: server.port,
    caCerts: [cert],
  });
  await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  const buf = new Uint8Array(4096);
  const n = await conn.read(buf);
  assert.ok(n !== null && n > 0);
  assert.match(new TextDecoder().decode(buf.subarray(0, n)), /^HTTP\/1\.1 200/);
  conn.close();
  await cancelled.promise;
  await aborted.promise;
});

Deno.test("serveHttps answers HEAD with headers only and cancels the body", async () => {
  let cancelled = false;
  await using server = await serveHttps({
    cert,
    key,
    handler: () =>
      Promise.resolve(
        new Response(chunkStream(1, 5, () => cancelled = true), {
          headers: { "content-length": "5", "content-type": "text/plain" },
        }),
      ),
  });
  using http = client();
  const res = await fetch(server.url, { client: http, method: "HEAD" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-length"), "5");
  assert.equal(await res.text(), "");
  assert.equal(cancelled, true);
});

Deno.test("serveHttps close() waits for an in-flight response and refuses new connections", async () => {
  let lastChunkAt = 0;
  const server = await serveHttps({
    cert,
    key,
    handler: () => {
      let step = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (step === 3) {
            lastChunkAt = performance.now();
            return controller.close();
          }
          if (step > 0) await new Promise((r) => setTimeout(r, 150));
          controller.enqueue(new TextEncoder().encode(`part${step++};`));
        },
      });
      return Promise.resolve(new Response(body));
    },
  });
  using http = client();
  const res = await fetch(server.url, { client: http });
  assert.equal(res.status, 200);
  let closedAt = 0;
  const closing = server.close().then(() => closedAt = performance.now());
  const text = await res.text();
  assert.equal(text, "part0;part1;part2;");
  await closing;
  // The server side of the response ended when the handler's body stream closed (~300 ms in).
  assert.ok(
    lastChunkAt > 0 && closedAt >= lastChunkAt,
    "close() resolved before the response finished",
  );
  await assert.rejects(fetch(server.url, { client: http }));
});

/** Runs `count` sequential GETs over one keep-alive connection; returns per-request ms. */
async function timeSequential(url: URL, count: number): Promise<{ ms: number[]; sockets: number }> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: cert });
  const seen = new Set<unknown>();
  const ms: number[] = [];
  try {
    for (let i = 0; i < count + 1; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const req = https.get({ host: url.hostname, port: url.port, path: "/", agent }, (res) => {
          seen.add(res.socket);
          res.resume();
          res.on("end", () => resolve());
          res.on("error", reject);
        });
        req.on("error", reject);
      });
      // The first request pays for the handshake; time only the reused connection.
      if (i > 0) ms.push(performance.now() - t0);
    }
  } finally {
    agent.destroy();
  }
  return { ms, sockets: seen.size };
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The response leaves as two small writes: exactly the pattern Nagle delays. */
const twoWriteHandler = () => {
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(new Uint8Array(128).fill(0x78));
      await new Promise((r) => setTimeout(r, 0));
      controller.enqueue(new Uint8Array(2048).fill(0x79));
      controller.close();
    },
  });
  return Promise.resolve(new Response(body, { headers: { "content-type": "text/plain" } }));
};

Deno.test("serveHttps has no Nagle stall on a reused keep-alive connection", async () => {
  await using server = await serveHttps({ cert, key, handler: twoWriteHandler });
  const { ms, sockets } = await timeSequential(server.url, 10);
  assert.equal(sockets, 1, "the requests did not share one connection");
  assert.ok(median(ms) < 20, `median ${median(ms).toFixed(1)} ms per request: Nagle stall is back`);
});

Deno.test({
  name: "serveHttps stall check detects the stall when TCP_NODELAY is off (control)",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await using server = await serveHttps({ cert, key, handler: twoWriteHandler, noDelay: false });
    const { ms } = await timeSequential(server.url, 6);
    assert.ok(median(ms) > 30, `median ${median(ms).toFixed(1)} ms: the control saw no stall`);
  },
});

import assert from "node:assert/strict";
import { serveHttp } from "../../src/proxy/http_server.ts";

Deno.test("serveHttp serves a handler object on an ephemeral loopback port", async () => {
  const server = serveHttp({
    handler: { handle: (request) => Promise.resolve(new Response(new URL(request.url).pathname)) },
  });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.ok(server.port > 0);
    assert.equal(server.hostname, "127.0.0.1");
    const response = await fetch(`${server.url}a/b`);
    assert.equal(await response.text(), "/a/b");
  } finally {
    await server.close();
    await server.close();
  }
  await assert.rejects(fetch(server.url), TypeError);
});

Deno.test("serveHttp closes gracefully when its signal aborts", async () => {
  const controller = new AbortController();
  const errors: unknown[] = [];
  const server = serveHttp({
    handler: () => Promise.reject(new Error("Handler broke")),
    signal: controller.signal,
    onError: (error) => errors.push(error),
  });
  const response = await fetch(server.url);
  assert.equal(response.status, 500);
  await response.body?.cancel();
  assert.equal(errors.length, 1);
  controller.abort();
  await server.close();
  await assert.rejects(fetch(server.url), TypeError);
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { UpstreamError } from "../../src/proxy/errors.ts";
import { generateServerCertificate } from "../../src/proxy/tls.ts";
import {
  buildUpstreamHeaders,
  createUpstreamClient,
  DEFAULT_USER_AGENT,
  tokenFromEnv,
} from "../../src/proxy/upstream.ts";

type Handler = (req: Request) => Response | Promise<Response>;

/** An HTTP server on 127.0.0.1:0 that records every request's headers. */
function serve(handler: Handler, tls?: { cert: string; key: string }) {
  const seen: { path: string; headers: Headers }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, ...tls },
    (req) => {
      seen.push({ path: new URL(req.url).pathname, headers: req.headers });
      return handler(req);
    },
  );
  const port = server.addr.port;
  return {
    server,
    seen,
    port,
    url: (path = "/", host = "127.0.0.1") => `${tls ? "https" : "http"}://${host}:${port}${path}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** A client with no system trust, so tests never depend on the machine's bundle. */
function client(options: Parameters<typeof createUpstreamClient>[0] = {}) {
  return createUpstreamClient({ env: {}, systemCaBundlePaths: [], ...options });
}

/** A body that emits `count` chunks `everyMs` apart, then stalls until cancelled when `stall`. */
function drip(count: number, everyMs: number, stall = false): ReadableStream<Uint8Array> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === count) {
        if (!stall) controller.close();
        return new Promise<void>(() => {}); // never resolves: the stall
      }
      return new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          controller.enqueue(new TextEncoder().encode(`chunk${sent++};`));
          resolve();
        }, sent === 0 ? 0 : everyMs);
      });
    },
    cancel() {
      clearTimeout(timer);
    },
  });
}

Deno.test("buildUpstreamHeaders copies end-to-end headers and drops hop-by-hop ones", () => {
  const inbound = new Headers({
    "user-agent": "Terraform/1.11.0 (+https://www.terraform.io)",
    "x-terraform-version": "1.11.0",
    "x-custom": "kept",
    "connection": "keep-alive, X-Hop",
    "x-hop": "dropped because Connection names it",
    "keep-alive": "timeout=5",
    "te": "trailers",
    "trailer": "x-foo",
    "upgrade": "h2c",
    "proxy-authorization": "Basic cHJveHk=",
    "proxy-authenticate": "Basic",
    "host": "127.0.0.1:4444",
    "accept-encoding": "identity",
    "content-length": "0",
    "x-tfcache-secret": "per-run",
  });
  const out = buildUpstreamHeaders(inbound, new URL("https://registry.example.com/v1/"), {
    dropHeaders: ["X-Tfcache-Secret"],
  });
  assert.deepEqual(Object.fromEntries(out), {
    "user-agent": "Terraform/1.11.0 (+https://www.terraform.io)",
    "x-custom": "kept",
    "x-terraform-version": "1.11.0",
  });
});

Deno.test("buildUpstreamHeaders falls back to the tfcache User-Agent", () => {
  assert.match(DEFAULT_USER_AGENT, /^tfcache\/\d+\.\d+\.\d+/);
  const out = buildUpstreamHeaders(undefined, new URL("https://example.com/"));
  assert.equal(out.get("user-agent"), DEFAULT_USER_AGENT);
  const custom = buildUpstreamHeaders(undefined, new URL("https://example.com/"), {
    userAgent: "tfcache/9.9.9",
  });
  assert.equal(custom.get("user-agent"), "tfcache/9.9.9");
});

Deno.test("buildUpstreamHeaders binds Authorization and Cookie to their host", () => {
  const inbound = new Headers({ authorization: "Bearer inbound", cookie: "session=1" });
  const credentials = (host: string) => host === "other.example.com" ? "looked-up" : undefined;
  const right = buildUpstreamHeaders(inbound, new URL("https://Registry.Example.com/x"), {
    authorizationHost: "registry.example.com:443",
    credentials,
  });
  assert.equal(right.get("authorization"), "Bearer inbound");
  assert.equal(right.get("cookie"), "session=1");

  const other = buildUpstreamHeaders(inbound, new URL("https://other.example.com/x"), {
    authorizationHost: "registry.example.com",
    credentials,
  });
  assert.equal(other.get("authorization"), "Bearer looked-up");
  assert.equal(other.get("cookie"), null);

  const noHost = buildUpstreamHeaders(inbound, new URL("https://registry.example.com/x"));
  assert.equal(noHost.get("authorization"), null, "inbound credentials need an owner host");

  const cleartext = buildUpstreamHeaders(inbound, new URL("http://other.example.com/x"), {
    authorizationHost: "other.example.com",
    credentials,
  });
  assert.equal(cleartext.get("authorization"), null, "no credentials over cleartext HTTP");
  const loopback = buildUpstreamHeaders(undefined, new URL("http://127.0.0.1:9/x"), {
    credentials: () => "local",
  });
  assert.equal(loopback.get("authorization"), "Bearer local");
});

Deno.test("tokenFromEnv decodes host names the way Terraform does", () => {
  const env = {
    TF_TOKEN_app_terraform_io: "tfc",
    TF_TOKEN_my__registry_example_com: "dashes",
    TF_TOKEN_xn____caf__dma_fr: "puny",
    "TF_TOKEN_bücher_example": "unicode",
    TF_TOKEN_UPPER_EXAMPLE_COM: "upper",
    "TF_TOKEN_localhost:8443": "port",
    TF_TOKEN_both_example_com: "from-tf",
    TOFU_TOKEN_both_example_com: "from-tofu",
    TOFU_TOKEN_tofu_example_com: "tofu-only",
    TF_TOKEN_empty_example_com: "",
    PATH: "/usr/bin",
  };
  assert.equal(tokenFromEnv("app.terraform.io", env), "tfc");
  assert.equal(tokenFromEnv("my-registry.example.com", env), "dashes");
  assert.equal(tokenFromEnv("café.fr", env), "puny");
  assert.equal(tokenFromEnv("xn--caf-dma.fr", env), "puny");
  assert.equal(tokenFromEnv("xn--bcher-kva.example", env), "unicode");
  assert.equal(tokenFromEnv("upper.example.com", env), "upper");
  assert.equal(tokenFromEnv("localhost:8443", env), "port");
  assert.equal(tokenFromEnv("localhost", env), undefined, "a port is part of the host");
  assert.equal(tokenFromEnv("app.terraform.io:443", env), "tfc", "443 is the default port");
  assert.equal(tokenFromEnv("both.example.com", env), "from-tf", "TF_TOKEN wins");
  assert.equal(tokenFromEnv("tofu.example.com", env), "tofu-only");
  assert.equal(tokenFromEnv("empty.example.com", env), undefined);
  assert.equal(tokenFromEnv("terraform.io", env), undefined);
  assert.equal(tokenFromEnv("", env), undefined);
});

Deno.test("upstream fetch propagates inbound headers and lets mirror headers win", async () => {
  await using up = serve(() => new Response("ok"));
  using upstream = client();
  const inbound = new Request("https://127.0.0.1:1/providers/x", {
    headers: {
      "user-agent": "Terraform/1.11.0",
      "x-custom": "kept",
      "x-mirror": "inbound",
      "connection": "x-hop",
      "x-hop": "dropped",
      "accept-encoding": "identity",
      "te": "trailers",
    },
  });
  const res = await upstream(inbound)(up.url("/v1/x"), { headers: { "x-mirror": "mirror" } });
  assert.equal(await res.text(), "ok");
  const got = up.seen[0]!.headers;
  assert.equal(got.get("user-agent"), "Terraform/1.11.0");
  assert.equal(got.get("x-custom"), "kept");
  assert.equal(got.get("x-mirror"), "mirror");
  assert.equal(got.get("x-hop"), null);
  assert.equal(got.get("te"), null);
  assert.equal(got.get("host"), `127.0.0.1:${up.port}`);
  assert.notEqual(got.get("accept-encoding"), "identity");
});

Deno.test("upstream fetch sends a TF_TOKEN_ token to its host only", async () => {
  await using up = serve(() => new Response("ok"));
  const env = { [`TF_TOKEN_localhost:${up.port}`]: "env-token" };
  using upstream = client({ credentials: (host) => tokenFromEnv(host, env) });
  await (await upstream(undefined)(up.url("/a", "localhost"))).body?.cancel();
  await (await upstream(undefined)(up.url("/b", "127.0.0.1"))).body?.cancel();
  assert.equal(up.seen[0]!.headers.get("authorization"), "Bearer env-token");
  assert.equal(up.seen[1]!.headers.get("authorization"), null);
});

Deno.test("inbound Authorization beats the env token for the host it belongs to", async () => {
  await using registry = serve(() => new Response("ok"));
  await using download = serve(() => new Response("ok"));
  const registryHost = `127.0.0.1:${registry.port}`;
  const env = {
    [`TF_TOKEN_127_0_0_1:${registry.port}`]: "env-registry",
    [`TF_TOKEN_localhost:${download.port}`]: "env-download",
  };
  using upstream = client({
    credentials: (host) => tokenFromEnv(host, env),
    authorizationHostFor: () => registryHost,
  });
  const inbound = new Request("https://127.0.0.1:1/x", {
    headers: { authorization: "Bearer inbound" },
  });
  const fetchUp = upstream(inbound);
  await (await fetchUp(registry.url("/v1"))).body?.cancel();
  await (await fetchUp(download.url("/file", "localhost"))).body?.cancel();
  assert.equal(registry.seen[0]!.headers.get("authorization"), "Bearer inbound");
  assert.equal(download.seen[0]!.headers.get("authorization"), "Bearer env-download");
});

Deno.test("a redirect to another host never carries Authorization", async () => {
  await using target = serve(() => new Response("payload"));
  await using origin = serve((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/same") return Response.redirect(origin.url("/final"), 302);
    if (path === "/final") return new Response("same-host");
    // Same IP, other port, other spelling: a different host.
    return Response.redirect(target.url("/file", "localhost"), 302);
  });
  using upstream = client({
    credentials: (host) => host === `127.0.0.1:${origin.port}` ? "origin-token" : undefined,
    authorizationHostFor: () => `127.0.0.1:${origin.port}`,
  });
  const inbound = new Request("https://127.0.0.1:1/x", {
    headers: { authorization: "Bearer inbound", cookie: "a=b" },
  });
  const res = await upstream(inbound)(origin.url("/start"), {
    headers: { authorization: "Bearer mirror-set" },
  });
  assert.equal(await res.text(), "payload");
  assert.equal(res.redirected, true);
  assert.equal(res.url, target.url("/file", "localhost"));
  assert.equal(origin.seen[0]!.headers.get("authorization"), "Bearer mirror-set");
  assert.equal(target.seen[0]!.headers.get("authorization"), null);
  assert.equal(target.seen[0]!.headers.get("cookie"), null);

  // A same-host redirect keeps the host's credentials.
  const same = await upstream(inbound)(origin.url("/same"));
  assert.equal(await same.text(), "same-host");
  assert.equal(origin.seen.at(-1)!.headers.get("authorization"), "Bearer inbound");
});

Deno.test("redirects stop after the limit", async () => {
  let hits = 0;
  await using loop = serve(() => {
    hits++;
    return Response.redirect(loop.url(`/loop/${hits}`), 307);
  });
  using upstream = client();
  await assert.rejects(
    upstream(undefined)(loop.url("/loop/0")),
    (error: unknown) =>
      error instanceof UpstreamError && /stopped after 10 redirects/.test(error.message),
  );
  assert.equal(hits, 11);
  using strict = client({ maxRedirects: 2 });
  hits = 0;
  await assert.rejects(strict(undefined)(loop.url("/loop/0")), /stopped after 2 redirects/);
  assert.equal(hits, 3);
});

Deno.test("metadata requests fail at the total deadline, headers or body", async () => {
  await using up = serve(async (req) => {
    if (new URL(req.url).pathname === "/slow-headers") {
      await new Promise((r) => setTimeout(r, 600));
      return new Response("late");
    }
    return new Response(drip(100, 50)); // 5 s of body in total
  });
  using upstream = client({ metadataTimeoutMs: 200 });
  const started = performance.now();
  await assert.rejects(
    upstream(undefined)(up.url("/slow-headers")),
    (error: unknown) =>
      error instanceof UpstreamError &&
      error.message ===
        `Cannot fetch "${
          up.url("/slow-headers")
        }": timed out after 0.2 s (total deadline for metadata)`,
  );
  assert.ok(performance.now() - started < 550);
  const res = await upstream(undefined)(up.url("/slow-body"));
  assert.equal(res.status, 200);
  await assert.rejects(res.text(), (error: unknown) => {
    assert.ok(error instanceof UpstreamError);
    assert.match(error.message, /timed out after 0\.2 s/);
    return true;
  });
});

Deno.test("artifact requests fail on a stall but not on a slow steady drip", async () => {
  await using up = serve((req) => {
    const stall = new URL(req.url).pathname === "/stall";
    return new Response(stall ? drip(3, 20, true) : drip(12, 100));
  });
  using upstream = client({ artifactIdleTimeoutMs: 300 });

  const steady = await upstream(undefined)(up.url("/steady"), { purpose: "artifact" });
  const started = performance.now();
  const text = await steady.text();
  assert.ok(performance.now() - started > 600, "the drip should outlast the idle timeout");
  assert.equal(text.split(";").length - 1, 12);

  const stalled = await upstream(undefined)(up.url("/stall"), { purpose: "artifact" });
  const reader = stalled.body!.getReader();
  let received = "";
  const error = await (async () => {
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        received += new TextDecoder().decode(value);
      }
    } catch (e) {
      return e;
    }
  })();
  assert.ok(error instanceof UpstreamError, `expected UpstreamError, got ${error}`);
  assert.match(error.message, /stalled: no data received for 0\.3 s/);
  assert.equal(received, "chunk0;chunk1;chunk2;");
});

Deno.test("a refused connection is an UpstreamError saying so", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  using upstream = client();
  await assert.rejects(upstream(undefined)(`http://127.0.0.1:${port}/x?token=secret`), (error) => {
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.message, `Cannot fetch "http://127.0.0.1:${port}/x?…": connection refused`);
    return true;
  });
});

Deno.test("an HTTPS upstream is trusted only when its CA is in SSL_CERT_FILE", async () => {
  const { certPem, keyPem } = await generateServerCertificate();
  const dir = await Deno.makeTempDir();
  try {
    const caFile = join(dir, "ca.pem");
    await Deno.writeTextFile(caFile, certPem);
    await using up = serve(() => new Response("secure"), { cert: certPem, key: keyPem });

    using trusting = client({ env: { SSL_CERT_FILE: caFile } });
    const res = await trusting(undefined)(up.url("/"));
    assert.equal(await res.text(), "secure");

    using plain = client();
    await assert.rejects(plain(undefined)(up.url("/")), (error) => {
      assert.ok(error instanceof UpstreamError);
      assert.match(error.message, /TLS certificate not trusted \(UnknownIssuer\)/);
      assert.match(error.message, /SSL_CERT_FILE/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a corrupt block in SSL_CERT_FILE does not disable the other certificates", async () => {
  const { certPem, keyPem } = await generateServerCertificate();
  const dir = await Deno.makeTempDir();
  try {
    const caFile = join(dir, "ca.pem");
    const corrupt = "-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n";
    await Deno.writeTextFile(caFile, corrupt + certPem);
    await using up = serve(() => new Response("secure"), { cert: certPem, key: keyPem });
    using trusting = client({ env: { SSL_CERT_FILE: caFile } });
    assert.equal(await (await trusting(undefined)(up.url("/"))).text(), "secure");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decoded gzip bodies lose their Content-Encoding; 204 has no body", async () => {
  await using up = serve(async (req) => {
    if (new URL(req.url).pathname === "/empty") return new Response(null, { status: 204 });
    const gz = await new Response(
      new Blob(["hello gzip"]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer();
    return new Response(gz, { headers: { "content-encoding": "gzip" } });
  });
  using upstream = client();
  const res = await upstream(undefined)(up.url("/gz"));
  assert.equal(res.headers.get("content-encoding"), null);
  assert.equal(res.headers.get("content-length"), null);
  assert.equal(await res.text(), "hello gzip");
  const empty = await upstream(undefined)(up.url("/empty"));
  assert.equal(empty.status, 204);
  assert.equal(empty.body, null);
});

Deno.test("a closed client refuses to fetch", async () => {
  const upstream = client();
  upstream.close();
  upstream.close();
  await assert.rejects(upstream(undefined)("http://127.0.0.1:9/"), /the client is closed/);
});

Deno.test("the caller's signal aborts an upstream fetch", async () => {
  await using up = serve(() => new Response(drip(100, 50)));
  using upstream = client();
  const controller = new AbortController();
  const res = await upstream(undefined)(up.url("/"), {
    purpose: "artifact",
    signal: controller.signal,
  });
  const reader = res.body!.getReader();
  await reader.read();
  controller.abort(new Error("caller gave up"));
  await assert.rejects(reader.read(), /caller gave up/);
});

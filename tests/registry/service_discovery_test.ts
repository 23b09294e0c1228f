import assert from "node:assert/strict";
import {
  DISCOVERY_PATH,
  MODULES_V1,
  PROVIDERS_V1,
  ServiceDiscovery,
} from "../../src/registry/service_discovery.ts";
import {
  DiscoveryDocumentError,
  HostUnreachableError,
  ServiceNotOfferedError,
} from "../../src/registry/errors.ts";
import type { FetchLike } from "../../src/registry/fetch_like.ts";
import { json, jsonFixture, REGISTRY, startFakeRegistry } from "./_support/registry_server.ts";

/** Serves `/.well-known/terraform.json` per host from a map of fixture names. */
function discoveryServer(byHost: Record<string, string>) {
  return startFakeRegistry(async (host, path) => {
    const name = byHost[host];
    if (path !== DISCOVERY_PATH || name === undefined) return new Response("nope", { status: 404 });
    return await jsonFixture(REGISTRY, name);
  });
}

Deno.test("ServiceDiscovery resolves relative service paths against the document URL", async () => {
  const reg = discoveryServer({
    "registry.example": "discovery--rlrabinowitz-opentofu-prototype.json",
    "custom.example": "discovery--dnachev-custom-path.json",
    "sub.example": "discovery--lemaitre-subpath.json",
  });
  try {
    const disco = new ServiceDiscovery({ fetch: reg.fetch });
    assert.equal(
      (await disco.providersUrl("registry.example")).href,
      `${reg.origin}/v1/providers/`,
    );
    assert.equal((await disco.modulesUrl("registry.example")).href, `${reg.origin}/v1/modules/`);
    assert.equal(
      (await disco.providersUrl("custom.example")).href,
      `${reg.origin}/terraform/providers/`,
    );
    assert.equal(
      (await disco.providersUrl("sub.example")).href,
      `${reg.origin}/terraform-provider-generic/v1/providers/`,
    );
    // One request per host: the document is memoised per instance.
    assert.equal(reg.requests.length, 3);
    assert.deepEqual(reg.requests.map((r) => r.path), [
      DISCOVERY_PATH,
      DISCOVERY_PATH,
      DISCOVERY_PATH,
    ]);
    assert.equal(reg.requests[0]!.headers.get("accept"), "application/json");
  } finally {
    await reg.close();
  }
});

Deno.test("ServiceDiscovery keeps absolute URLs and ensures a trailing slash", async () => {
  const reg = discoveryServer({
    "aziz.example": "discovery--azizsoule-absolute-url.json",
    "t0tt1.example": "discovery--t0tt1-absolute-no-trailing-slash.json",
  });
  try {
    const disco = new ServiceDiscovery({ fetch: reg.fetch });
    assert.equal(
      (await disco.providersUrl("aziz.example")).href,
      "https://azizsoule.github.io/terraform-provider-hostinger/providers/",
    );
    assert.equal(
      (await disco.providersUrl("t0tt1.example")).href,
      "https://t0tt1.github.io/terraform-registry/providers/",
    );
  } finally {
    await reg.close();
  }
});

Deno.test("ServiceDiscovery reports a missing service with a typed error", async () => {
  const reg = discoveryServer({
    "tfe.example": "discovery--renovate-tfe-style.json",
    "csc.example": "discovery--csc-providers-only.json",
  });
  try {
    const disco = new ServiceDiscovery({ fetch: reg.fetch });
    const err = await disco.providersUrl("tfe.example").catch((e: unknown) => e);
    assert.ok(err instanceof ServiceNotOfferedError);
    assert.equal(err.host, "tfe.example");
    assert.equal(err.service, PROVIDERS_V1);
    assert.equal(err.hasOtherVersion, false);
    assert.match(err.message, /Host "tfe\.example" does not offer "providers\.v1"/);
    assert.equal(
      (await disco.modulesUrl("tfe.example")).href,
      `${reg.origin}/api/registry/v1/modules/`,
    );
    await assert.rejects(disco.modulesUrl("csc.example"), ServiceNotOfferedError);
    // 404 on the document: the host offers nothing (no fallback to /v1/providers/).
    const none = await disco.providersUrl("nothing.example").catch((e: unknown) => e);
    assert.ok(none instanceof ServiceNotOfferedError);
  } finally {
    await reg.close();
  }
});

Deno.test("ServiceDiscovery flags another version of the service", async () => {
  const reg = startFakeRegistry(() => json({ "providers.v2": "/v2/providers/" }));
  try {
    const disco = new ServiceDiscovery({ fetch: reg.fetch });
    const err = await disco.providersUrl("v2.example").catch((e: unknown) => e);
    assert.ok(err instanceof ServiceNotOfferedError);
    assert.equal(err.hasOtherVersion, true);
  } finally {
    await reg.close();
  }
});

Deno.test("ServiceDiscovery singleflights concurrent lookups of one host", async () => {
  const gate = Promise.withResolvers<void>();
  const reg = startFakeRegistry(async () => {
    await gate.promise;
    return json({ "providers.v1": "/v1/providers/" });
  });
  try {
    const disco = new ServiceDiscovery({ fetch: reg.fetch });
    const lookups = [1, 2, 3, 4, 5].map(() => disco.providersUrl("one.example"));
    // Also the same host in another spelling (upper case, explicit :443).
    lookups.push(disco.providersUrl("ONE.example:443"));
    await new Promise((r) => setTimeout(r, 20));
    gate.resolve();
    const urls = await Promise.all(lookups);
    assert.equal(new Set(urls.map((u) => u.href)).size, 1);
    assert.equal(reg.requests.length, 1);
  } finally {
    await reg.close();
  }
});

Deno.test("ServiceDiscovery uses host overrides without any request", async () => {
  let calls = 0;
  const fetchFn: FetchLike = () => {
    calls++;
    return Promise.reject(new Error("must not be called"));
  };
  const disco = new ServiceDiscovery({
    fetch: fetchFn,
    overrides: {
      "Registry.Example": { "providers.v1": "http://127.0.0.1:1234/v1/providers" },
      "rel.example:8443": { "modules.v1": "/mods/" },
    },
  });
  assert.equal(
    (await disco.providersUrl("registry.example")).href,
    "http://127.0.0.1:1234/v1/providers/",
  );
  await assert.rejects(disco.modulesUrl("registry.example"), ServiceNotOfferedError);
  assert.equal((await disco.modulesUrl("rel.example:8443")).href, "https://rel.example:8443/mods/");
  assert.equal(calls, 0);
});

Deno.test("ServiceDiscovery rejects invalid documents with DiscoveryDocumentError", async (t) => {
  const bodies: Record<string, () => Response> = {
    "badjson.example": () => json("{not json"),
    "array.example": () => json([1, 2]),
    "html.example": () =>
      new Response("<html></html>", { headers: { "content-type": "text/html" } }),
    "status.example": () => new Response("boom", { status: 500 }),
    "huge.example": () => json({ "providers.v1": "/v1/providers/", pad: "x".repeat(2 << 20) }),
    "scheme.example": () => json({ "providers.v1": "ftp://files.example/providers/" }),
    "userinfo.example": () => json({ "providers.v1": "https://user:pw@x.example/p/" }),
    "number.example": () => json({ "providers.v1": 42 }),
  };
  const reg = startFakeRegistry((host) => bodies[host]!());
  try {
    const disco = new ServiceDiscovery({ fetch: reg.fetch });
    for (const host of Object.keys(bodies)) {
      await t.step(host, async () => {
        const err = await disco.providersUrl(host).catch((e: unknown) => e);
        assert.ok(err instanceof DiscoveryDocumentError, `${host}: ${err}`);
        assert.equal(err.host, host);
      });
    }
    const status = await disco.providersUrl("status.example").catch((e: unknown) => e);
    assert.ok(status instanceof DiscoveryDocumentError);
    assert.equal(status.status, 500);
    assert.match(status.message, /server answered 500/);
  } finally {
    await reg.close();
  }
});

Deno.test("ServiceDiscovery reports an unreachable host and retries later", async () => {
  let attempts = 0;
  const fetchFn: FetchLike = (url) => {
    attempts++;
    if (attempts === 1) return Promise.reject(new TypeError("connection refused"));
    return Promise.resolve(
      new Response(JSON.stringify({ "providers.v1": "/v1/providers/" }), {
        headers: { "content-type": "application/json" },
      }),
    ).then((r) => {
      assert.equal(String(url), "https://down.example/.well-known/terraform.json");
      return r;
    });
  };
  const disco = new ServiceDiscovery({ fetch: fetchFn });
  const err = await disco.providersUrl("down.example").catch((e: unknown) => e);
  assert.ok(err instanceof HostUnreachableError);
  assert.match(err.message, /Cannot connect to "down\.example".*connection refused/);
  // Failures are not memoised: the next lookup tries again (a Response without url resolves
  // against the request URL).
  assert.equal(
    (await disco.providersUrl("down.example")).href,
    "https://down.example/v1/providers/",
  );
  assert.equal(attempts, 2);
});

Deno.test("ServiceDiscovery times out a stalled host", async () => {
  const fetchFn: FetchLike = (_url, init) =>
    new Promise((_resolve, reject) => {
      init?.signal?.addEventListener("abort", () => reject(init.signal!.reason), { once: true });
    });
  const disco = new ServiceDiscovery({ fetch: fetchFn, timeoutMs: 30 });
  await assert.rejects(disco.discover("slow.example"), HostUnreachableError);
});

Deno.test("ServiceDiscovery rejects invalid hostnames", async () => {
  const disco = new ServiceDiscovery({ fetch: () => Promise.reject(new Error("unused")) });
  await assert.rejects(async () => await disco.providersUrl("bad host!"), TypeError);
  assert.equal(MODULES_V1, "modules.v1");
});

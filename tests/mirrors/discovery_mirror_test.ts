import assert from "node:assert/strict";
import { createCacheHandler } from "../../src/proxy/cache_handler.ts";
import { FileStore } from "../../src/proxy/file_store.ts";
import { createUpstreamClient } from "../../src/proxy/upstream.ts";
import { DiscoveryMirror, discoveryThroughCache } from "../../src/mirrors/discovery_mirror.ts";
import { ServiceDiscovery } from "../../src/registry/service_discovery.ts";
import { ServiceNotOfferedError } from "../../src/registry/errors.ts";
import { type FakeRegistry, startFakeRegistry } from "../support/fake_registry.ts";

const BASE = new URL("http://127.0.0.1/s3cr3t/");

async function withCache(
  registry: FakeRegistry,
  root: string,
  fn: (discovery: ServiceDiscovery) => Promise<void>,
  metadataTtlMs = 600_000,
): Promise<void> {
  using upstream = createUpstreamClient({ caCerts: [registry.caCertPem] });
  const handler = createCacheHandler({
    store: new FileStore(root),
    mirrors: [new DiscoveryMirror()],
    upstream,
    pathPrefix: "/s3cr3t/",
    metadataTtlMs,
  });
  try {
    const discovery = new ServiceDiscovery({
      fetch: discoveryThroughCache((r) => handler.handle(r), BASE, () => {
        throw new Error("only discovery requests are expected");
      }),
    });
    await fn(discovery);
  } finally {
    await handler.shutdown();
  }
}

Deno.test({
  name: "discovery documents are cached: a second run asks upstream nothing",
}, async () => {
  await using registry = await startFakeRegistry();
  const root = await Deno.makeTempDir();
  try {
    await withCache(registry, root, async (discovery) => {
      const url = await discovery.providersUrl(registry.host);
      assert.equal(url.href, `${registry.url}/v1/providers/`);
    });
    assert.equal(registry.counters.byKind.discovery, 1);
    await withCache(registry, root, async (discovery) => {
      assert.equal((await discovery.modulesUrl(registry.host)).href, `${registry.url}/v1/modules/`);
      const found = await discovery.discover(registry.host);
      // Service URLs are stored absolute, so where the cached copy came from does not matter.
      assert.equal(found.services["providers.v1"], `${registry.url}/v1/providers/`);
    });
    assert.equal(registry.counters.byKind.discovery, 1, "served from the cache");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "a stale discovery document is served when the registry is down",
}, async () => {
  await using registry = await startFakeRegistry();
  const root = await Deno.makeTempDir();
  try {
    await withCache(registry, root, async (d) => void await d.providersUrl(registry.host), 1);
    await registry.stop();
    await new Promise((r) => setTimeout(r, 5));
    await withCache(registry, root, async (discovery) => {
      assert.equal(
        (await discovery.providersUrl(registry.host)).href,
        `${registry.url}/v1/providers/`,
      );
    }, 1);
    await registry.start();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a host without a discovery document offers no services; bad hosts are refused", async () => {
  await using registry = await startFakeRegistry();
  registry.faults.set({ status500: true }, { kinds: ["discovery"] });
  const root = await Deno.makeTempDir();
  try {
    await withCache(registry, root, async (discovery) => {
      await assert.rejects(discovery.providersUrl(registry.host));
    });
    registry.faults.clear();
    const mirror = new DiscoveryMirror();
    const ctx = {
      fetch: () => Promise.reject(new Error("unused")),
      signal: new AbortController().signal,
      baseUrl: BASE,
    };
    await assert.rejects(
      mirror.route(new Request(BASE), "discovery/../etc", ctx),
      /not a hostname/,
    );
    await assert.rejects(
      mirror.route(new Request(BASE), "discovery/Example.COM", ctx),
      /use "example.com"/,
    );
    const route = await mirror.route(new Request(BASE), "discovery/example.com:8443", ctx);
    assert.equal(route.key, "discovery/example.com:8443.json");
    const produced = await route.produce!({
      ...ctx,
      fetch: () => Promise.resolve(new Response("nope", { status: 404 })),
    });
    assert.equal(new TextDecoder().decode(produced.body), "{}");
    const none = new ServiceDiscovery({
      fetch: () => Promise.resolve(Response.json({}, { status: 200 })),
    });
    await assert.rejects(none.providersUrl("example.com"), ServiceNotOfferedError);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

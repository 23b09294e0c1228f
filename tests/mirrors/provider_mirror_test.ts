import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import { parseSha256Sums } from "../../src/registry/sha256sums.ts";
import { verifyChecksumsSignature } from "../../src/registry/signature.ts";
import { fakeShasums } from "../support/fake_registry.ts";
import {
  ALPHA,
  DASHED,
  okJson,
  type ProviderEnv,
  startProviderEnv,
  WIDE,
} from "./_support/provider_env.ts";

const ALPHA_ZIP = "terraform-provider-alpha_1.0.0_linux_amd64.zip";

function alphaPath(env: ProviderEnv, leaf: string): string {
  return `providers/${env.host}/tfcache/alpha/${leaf}`;
}

function registryPath(env: ProviderEnv, rest: string): string {
  return `registry/${env.host}/providers/v1/tfcache/${rest}`;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function bytesOf(response: Response): Promise<Uint8Array> {
  const body = new Uint8Array(await response.arrayBuffer());
  assert.equal(response.status, 200, new TextDecoder().decode(body));
  return body;
}

async function exists(env: ProviderEnv, key: string): Promise<boolean> {
  return (await env.store.stat(key)) !== undefined;
}

Deno.test({
  name: "network mirror: index.json lists every upstream version; unknown provider → 404",
}, async () => {
  await using env = await startProviderEnv();
  assert.deepEqual(await okJson(await env.get(alphaPath(env, "index.json"))), {
    versions: { "1.0.0": {}, "1.1.0": {} },
  });
  const missing = await env.get(`providers/${env.host}/tfcache/nope/index.json`);
  assert.equal(missing.status, 404, await missing.text());
  const badHost = await env.get(`providers/${env.host}/tfcache/alpha_x/index.json`);
  assert.equal(badHost.status, 400, await badHost.text());
});

Deno.test({
  name: "network mirror: <version>.json has relative urls and zh: hashes; unknown version → 404",
}, async () => {
  await using env = await startProviderEnv();
  const expected = env.registry.expectedHashes("tfcache/alpha", "1.0.0");
  const doc = await okJson(await env.get(alphaPath(env, "1.0.0.json")));
  assert.deepEqual(doc, {
    archives: {
      darwin_arm64: {
        url: "terraform-provider-alpha_1.0.0_darwin_arm64.zip",
        hashes: [expected.zh["darwin_arm64"]],
      },
      linux_amd64: {
        url: "terraform-provider-alpha_1.0.0_linux_amd64.zip",
        hashes: [expected.zh["linux_amd64"]],
      },
      windows_amd64: {
        url: "terraform-provider-alpha_1.0.0_windows_amd64.zip",
        hashes: [expected.zh["windows_amd64"]],
      },
    },
  });
  const unknown = await env.get(alphaPath(env, "9.9.9.json"));
  assert.equal(unknown.status, 404, await unknown.text());
  assert.equal(await exists(env, `providers/${env.host}/tfcache/alpha/9.9.9.json`), false);
  // The platform documents resolved for it are shared with the registry face.
  assert.ok(
    await exists(env, `registry/${env.host}/tfcache/alpha/1.0.0/download/linux_amd64.json`),
  );
});

Deno.test({
  name: "network mirror: h1: appears in <version>.json once the zip is cached",
}, async () => {
  await using env = await startProviderEnv();
  const expected = env.registry.expectedHashes("tfcache/alpha", "1.0.0");
  await okJson(await env.get(alphaPath(env, "1.0.0.json")));
  const zip = await bytesOf(await env.get(alphaPath(env, ALPHA_ZIP)));
  assert.equal(`zh:${sha256(zip)}`, expected.zh["linux_amd64"]);
  // The h1: is computed after the commit, in the background.
  await env.handler.settled();
  const info = await env.store.stat(`providers/${env.host}/tfcache/alpha/${ALPHA_ZIP}`);
  assert.equal(info?.extra["h1"], expected.h1["linux_amd64"]);
  assert.equal(info?.extra["zh"], expected.zh["linux_amd64"]);
  assert.equal(info?.extra["filename"], ALPHA_ZIP);
  assert.match(String(info?.extra["upstreamUrl"]), /^https:\/\/127\.0\.0\.1:\d+\/files\//);
  const doc = await okJson(await env.get(alphaPath(env, "1.0.0.json"))) as {
    archives: Record<string, { hashes: string[] }>;
  };
  assert.deepEqual(doc.archives["linux_amd64"]?.hashes, [
    expected.h1["linux_amd64"],
    expected.zh["linux_amd64"],
  ]);
  assert.deepEqual(doc.archives["darwin_arm64"]?.hashes, [expected.zh["darwin_arm64"]]);
});

Deno.test({
  name: "zip: unknown provider, version or platform → 404, nothing stored",
}, async () => {
  await using env = await startProviderEnv();
  for (
    const path of [
      `providers/${env.host}/tfcache/nope/terraform-provider-nope_1.0.0_linux_amd64.zip`,
      alphaPath(env, "terraform-provider-alpha_9.9.9_linux_amd64.zip"),
      alphaPath(env, "terraform-provider-alpha_1.0.0_plan9_amd64.zip"),
    ]
  ) {
    const response = await env.get(path);
    assert.equal(response.status, 404, `${path}: ${await response.text()}`);
    assert.equal(await exists(env, path), false);
  }
});

Deno.test({
  name:
    "registry face: versions passthrough and 404; download URLs rewritten per base URL at serve time",
}, async () => {
  await using env = await startProviderEnv();
  const versions = await okJson(await env.get(registryPath(env, "alpha/versions"))) as {
    versions: { version: string }[];
  };
  assert.deepEqual(versions.versions.map((v) => v.version), ["1.0.0", "1.1.0"]);
  const none = await env.get(registryPath(env, "nope/versions"));
  assert.equal(none.status, 404, await none.text());

  const path = registryPath(env, "alpha/1.0.0/download/linux_amd64".replace("_", "/"));
  const a = await okJson(await env.get(path, "http://127.0.0.1:1111")) as Record<string, unknown>;
  const upstreamCalls = env.all.urls.length;
  const b = await okJson(await env.get(path, "http://127.0.0.1:2222")) as Record<string, unknown>;
  assert.equal(env.all.urls.length, upstreamCalls, "second answer comes from the cache");
  const zipPath = `providers/${env.host}/tfcache/alpha/${ALPHA_ZIP}`;
  const sumsPath = `registry/${env.host}/tfcache/alpha/1.0.0/SHA256SUMS`;
  assert.equal(a["download_url"], `http://127.0.0.1:1111/${zipPath}`);
  assert.equal(b["download_url"], `http://127.0.0.1:2222/${zipPath}`);
  assert.equal(a["shasums_url"], `http://127.0.0.1:1111/${sumsPath}`);
  assert.equal(b["shasums_signature_url"], `http://127.0.0.1:2222/${sumsPath}.sig`);
  // Everything else is the upstream answer untouched.
  const upstream = await (await env.registry.handler(
    new Request(`${env.registry.url}/v1/providers/tfcache/alpha/1.0.0/download/linux/amd64`),
  )).json() as Record<string, unknown>;
  for (const field of ["filename", "shasum", "signing_keys", "protocols", "os", "arch"]) {
    assert.deepEqual(a[field], upstream[field], field);
  }
  // The cached object holds absolute upstream URLs and nothing of the cache's own address.
  const cached = await Deno.readTextFile(
    env.store.objectPath(`registry/${env.host}/tfcache/alpha/1.0.0/download/linux_amd64.json`),
  );
  assert.ok(!cached.includes("1111") && !cached.includes("2222"), cached);
  assert.equal(JSON.parse(cached)["download_url"], upstream["download_url"]);
});

Deno.test({
  name: "registry face: relative download_url and shasums urls are resolved against the endpoint",
}, async () => {
  await using env = await startProviderEnv();
  const path = registryPath(env, "multi-word/2.0.0/download/linux/arm64");
  const doc = await okJson(await env.get(path)) as Record<string, string>;
  const cached = JSON.parse(
    await Deno.readTextFile(
      env.store.objectPath(
        `registry/${env.host}/tfcache/multi-word/2.0.0/download/linux_arm64.json`,
      ),
    ),
  );
  const files = `https://${env.host}/files/tfcache/multi-word/2.0.0`;
  assert.equal(
    cached["download_url"],
    `${files}/terraform-provider-multi-word_2.0.0_linux_arm64.zip`,
  );
  assert.equal(cached["shasums_url"], `${files}/terraform-provider-multi-word_2.0.0_SHA256SUMS`);
  assert.equal(
    cached["shasums_signature_url"],
    `${files}/terraform-provider-multi-word_2.0.0_SHA256SUMS.sig`,
  );
  // Follow the rewritten URLs like terraform does.
  const sums = await bytesOf(await env.handler.handle(new Request(doc["shasums_url"]!)));
  const sig = await bytesOf(await env.handler.handle(new Request(doc["shasums_signature_url"]!)));
  assert.equal(new TextDecoder().decode(sums), fakeShasums(DASHED, "2.0.0"));
  await verifyChecksumsSignature({
    document: sums,
    signature: sig,
    keys: [{ asciiArmor: env.registry.signingKeyArmored }],
  });
  const zip = await bytesOf(await env.handler.handle(new Request(doc["download_url"]!)));
  assert.equal(
    parseSha256Sums(sums).get("terraform-provider-multi-word_2.0.0_linux_arm64.zip"),
    sha256(zip),
  );
});

Deno.test({
  name: "zip: a cold request fetches and stores the download document, SHA256SUMS and signature",
}, async () => {
  await using env = await startProviderEnv();
  await bytesOf(await env.get(alphaPath(env, ALPHA_ZIP)));
  const base = `registry/${env.host}/tfcache/alpha/1.0.0`;
  assert.ok(await exists(env, `${base}/download/linux_amd64.json`));
  assert.ok(await exists(env, `${base}/SHA256SUMS`));
  assert.ok(await exists(env, `${base}/SHA256SUMS.sig`));
  const before = env.all.urls.length;
  const sums = await bytesOf(await env.get(`${base}/SHA256SUMS`));
  assert.equal(new TextDecoder().decode(sums), fakeShasums(ALPHA, "1.0.0"));
  assert.equal(env.all.urls.length, before, "SHA256SUMS served from the store");
  // Another platform of the same version reuses the stored checksums.
  await bytesOf(await env.get(alphaPath(env, "terraform-provider-alpha_1.0.0_darwin_arm64.zip")));
  assert.equal(env.all.urls.filter((u) => u.includes("SHA256SUMS")).length, 2);
});

Deno.test({
  name: "zip: bytes that do not match the signed checksum are refused and nothing is stored",
}, async () => {
  await using env = await startProviderEnv();
  env.registry.faults.set({ tamperedZip: true }, { kinds: ["zip"] });
  const response = await env.get(alphaPath(env, ALPHA_ZIP));
  const text = await response.text();
  assert.equal(response.status, 502, text);
  const expected = env.registry.expectedHashes("tfcache/alpha", "1.0.0").zh["linux_amd64"]!;
  assert.ok(text.includes(ALPHA_ZIP) && text.includes(expected), text);
  assert.equal(await exists(env, alphaPath(env, ALPHA_ZIP)), false);
  const leftovers = [];
  const alphaDir = dirname(env.store.objectPath(`providers/${env.host}/tfcache/alpha/index.json`));
  for await (const entry of Deno.readDir(alphaDir)) {
    if (!entry.name.endsWith(".lock")) leftovers.push(entry.name);
  }
  assert.deepEqual(leftovers, []);
  // Once upstream behaves again the package is fetched and cached.
  env.registry.faults.clear();
  await bytesOf(await env.get(alphaPath(env, ALPHA_ZIP)));
});

Deno.test({
  name: "zip: a registry shasum that disagrees with SHA256SUMS is refused before downloading",
}, async () => {
  await using env = await startProviderEnv();
  env.registry.faults.set({ wrongShasum: true }, { kinds: ["download-info"] });
  const response = await env.get(alphaPath(env, ALPHA_ZIP));
  const text = await response.text();
  assert.equal(response.status, 502, text);
  assert.ok(text.includes(ALPHA_ZIP), text);
  assert.equal(env.registry.counters.byKind.zip, 0);
  assert.equal(await exists(env, alphaPath(env, ALPHA_ZIP)), false);
});

Deno.test({
  name: "signature: a bad signature is refused with the key id, nothing is stored",
}, async () => {
  await using env = await startProviderEnv();
  env.registry.faults.set({ badSignature: true }, { kinds: ["signature"] });
  const base = `registry/${env.host}/tfcache/alpha/1.0.0`;
  for (const path of [`${base}/SHA256SUMS`, `${base}/SHA256SUMS.sig`, alphaPath(env, ALPHA_ZIP)]) {
    const response = await env.get(path);
    const text = await response.text();
    assert.equal(response.status, 502, `${path}: ${text}`);
    assert.match(text, /signature/i);
    assert.match(text, /key id [0-9A-F]{16}/);
  }
  assert.equal(await exists(env, `${base}/SHA256SUMS`), false);
  assert.equal(await exists(env, `${base}/SHA256SUMS.sig`), false);
  assert.equal(await exists(env, alphaPath(env, ALPHA_ZIP)), false);
});

Deno.test({
  name: "zip: a cached package is served with the upstream closed",
}, async () => {
  await using env = await startProviderEnv();
  const first = await bytesOf(await env.get(alphaPath(env, ALPHA_ZIP)));
  await env.registry.stop();
  const before = env.all.urls.length;
  const again = await bytesOf(await env.get(alphaPath(env, ALPHA_ZIP)));
  assert.deepEqual(again, first);
  assert.equal(env.all.urls.length, before, "no upstream request on a hit");
  // Uncached objects fail cleanly while the upstream is down.
  const cold = await env.get(alphaPath(env, "terraform-provider-alpha_1.1.0_linux_amd64.zip"));
  assert.equal(cold.status, 502, await cold.text());
  await env.registry.start();
});

Deno.test({
  name: "network mirror: platforms are resolved in parallel, bounded by parallelism",
}, async () => {
  await using env = await startProviderEnv({ parallelism: 3, delayMs: 25 });
  const doc = await okJson(await env.get(`providers/${env.host}/tfcache/wide/0.1.0.json`)) as {
    archives: Record<string, unknown>;
  };
  assert.equal(Object.keys(doc.archives).length, WIDE.platforms.length);
  assert.equal(env.downloads.urls.length, WIDE.platforms.length);
  assert.equal(env.downloads.max, 3);
});

Deno.test({
  name: "network mirror: default parallelism is 8",
}, async () => {
  await using env = await startProviderEnv({ delayMs: 25 });
  await okJson(await env.get(`providers/${env.host}/tfcache/wide/0.1.0.json`));
  assert.equal(env.downloads.max, 8);
});

Deno.test({
  name: "zip: concurrent requests share one upstream download",
}, async () => {
  await using env = await startProviderEnv();
  const responses = await Promise.all(
    Array.from({ length: 5 }, () => env.get(alphaPath(env, ALPHA_ZIP))),
  );
  const bodies = await Promise.all(responses.map(bytesOf));
  for (const body of bodies) assert.deepEqual(body, bodies[0]);
  assert.equal(env.registry.counters.byKind.zip, 1);
});

Deno.test({
  name: "metadata: upstream down after the TTL → the stale copy is served",
}, async () => {
  await using env = await startProviderEnv({ metadataTtlMs: 1 });
  const fresh = await okJson(await env.get(alphaPath(env, "index.json")));
  await okJson(await env.get(alphaPath(env, "1.0.0.json")));
  await env.registry.stop();
  await new Promise((r) => setTimeout(r, 20));
  await env.settled();
  const stale = await env.get(alphaPath(env, "index.json"));
  assert.deepEqual(await okJson(stale), fresh);
  const version = await env.get(alphaPath(env, "1.0.0.json"));
  assert.equal(version.status, 200, await version.clone().text());
  await version.body?.cancel();
  await env.settled();
  await env.registry.start();
});

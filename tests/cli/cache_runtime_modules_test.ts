/**
 * The module and git mirrors inside the real cache runtime (FileStore, cache handler, HTTP front
 * end): what a client that skipped the download endpoint, a hostile registry, or a hostile
 * request path gets.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startCacheRuntime } from "../../src/cli/cache_runtime.ts";
import { sourceId } from "../../src/mirrors/module_source_address.ts";
import { DEFAULT_ENCODE_COLONS, toDiskPath } from "../../src/proxy/_key_path.ts";
import { startFakeRegistry } from "../support/fake_registry.ts";

/** Hostile sources a registry could answer with; the cache must fetch none of them. */
const HOSTILE = [
  "git::ext::sh -c touch%20/tmp/tfcache-pwned",
  "git::file:///etc/tfcache-repo.git",
  "git::https://example.invalid/r.git?ref=--upload-pack=touch",
  "git::https://example.invalid/r.git//../../etc?ref=v1",
  "s3::https://s3.amazonaws.com/bucket/m.zip",
];

async function get(url: URL, init: RequestInit = {}): Promise<Response> {
  return await fetch(url, { redirect: "manual", ...init });
}

Deno.test({
  name: "cache runtime: a _source id is served only after this process rendered it",
}, async () => {
  await using registry = await startFakeRegistry({
    modules: [{ namespace: "tfcache", name: "net", system: "aws", versions: ["1.0.0"] }],
  });
  const cacheDir = await Deno.makeTempDir({ prefix: "tfcache-rt-" });
  const env = { SSL_CERT_FILE: registry.caFile, PATH: Deno.env.get("PATH") ?? "" };
  const download = (base: URL) =>
    new URL(`modules/${registry.host}/tfcache/net/aws/1.0.0/download`, base);
  try {
    let sourcePath: string;
    {
      await using first = await startCacheRuntime({ cacheDir, env });
      const resolved = await get(download(first.httpBaseUrl));
      assert.equal(resolved.status, 204);
      const location = resolved.headers.get("X-Terraform-Get") ?? "";
      assert.ok(location.startsWith(`${first.httpBaseUrl.href}modules/_source/`), location);
      sourcePath = location.slice(first.httpBaseUrl.href.length);
      const tarball = await get(new URL(location));
      assert.equal(tarball.status, 200);
      assert.ok((await tarball.arrayBuffer()).byteLength > 0);
    }
    assert.equal(registry.counters.byKind.archive, 1);

    // A new process: the artifact is in the store, but this process never rendered its id.
    await using second = await startCacheRuntime({ cacheDir, env });
    const early = await get(new URL(sourcePath, second.httpBaseUrl));
    assert.equal(early.status, 404);
    assert.match(await early.text(), /download endpoint/);
    const resolved = await get(download(second.httpBaseUrl));
    await resolved.body?.cancel();
    assert.equal(
      resolved.headers.get("X-Terraform-Get"),
      new URL(sourcePath, second.httpBaseUrl).href,
      "the same id, on this run's base URL",
    );
    const served = await get(new URL(sourcePath, second.httpBaseUrl));
    assert.equal(served.status, 200);
    await served.body?.cancel();
    assert.equal(registry.counters.byKind.archive, 1, "served from the store");
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test({
  name: "cache runtime: hostile module sources are handed back unchanged and never fetched",
}, async () => {
  await using registry = await startFakeRegistry({
    modules: HOSTILE.map((location, i) => ({
      namespace: "evil",
      name: `m${i}`,
      system: "aws",
      versions: ["1.0.0"],
      sourceKind: "git" as const,
      gitUrl: location,
    })),
  });
  const cacheDir = await Deno.makeTempDir({ prefix: "tfcache-rt-" });
  try {
    await using runtime = await startCacheRuntime({
      cacheDir,
      env: { SSL_CERT_FILE: registry.caFile, PATH: Deno.env.get("PATH") ?? "" },
    });
    for (const [i, hostile] of HOSTILE.entries()) {
      const url = new URL(
        `modules/${registry.host}/evil/m${i}/aws/1.0.0/download`,
        runtime.httpBaseUrl,
      );
      const response = await get(url);
      await response.body?.cancel();
      assert.equal(response.status, 204, hostile);
      assert.equal(response.headers.get("X-Terraform-Get"), hostile, "passed through unchanged");
      const id = await sourceId(hostile);
      const probe = await get(new URL(`modules/_source/${id}.tar.gz`, runtime.httpBaseUrl));
      assert.equal(probe.status, 404, hostile);
      await probe.body?.cancel();
    }
    await assert.rejects(Deno.stat("/tmp/tfcache-pwned"), Deno.errors.NotFound);
    const cached = await Array.fromAsync(Deno.readDir(join(cacheDir, "modules")));
    assert.deepEqual(
      cached.map((e) => e.name),
      [toDiskPath(registry.host, DEFAULT_ENCODE_COLONS)],
      "no _source directory",
    );
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("cache runtime: hostile module and git request paths are refused", async () => {
  const cacheDir = await Deno.makeTempDir({ prefix: "tfcache-rt-" });
  try {
    await using runtime = await startCacheRuntime({
      cacheDir,
      env: { PATH: Deno.env.get("PATH") ?? "" },
      gitPlainHttpHosts: ["127.0.0.1:9"],
    });
    const base = runtime.httpBaseUrl;
    const id = "a".repeat(64);
    const cases: [string, RequestInit, number][] = [
      [`modules/_source/${id}.tar.gz`, {}, 404],
      [`modules/_source/${id.toUpperCase()}.tar.gz`, {}, 404],
      [`modules/_source/${id}.zip`, {}, 404],
      [`modules/_source/${id}.tar.gz`, { method: "POST", body: "x" }, 405],
      ["modules/Bad_Host!/a/b/c/versions", {}, 400],
      ["git-http/example.com/o/r.git/info/refs?service=git-upload-pack", {}, 404],
      ["git/example.com/o/r.git/info/refs?service=git-receive-pack", {}, 403],
      ["git/example.com/o/r.git/git-receive-pack", { method: "POST", body: "x" }, 403],
      ["git/example.com/o/r.git/HEAD", {}, 404],
      ["git/example.com/-o/r.git/info/refs?service=git-upload-pack", {}, 400],
    ];
    for (const [path, init, status] of cases) {
      const response = await get(new URL(path, base), init);
      await response.body?.cancel();
      assert.equal(response.status, status, `${init.method ?? "GET"} ${path}`);
    }
    const outside = await get(new URL(`/modules/_source/${id}.tar.gz`, base));
    await outside.body?.cancel();
    assert.equal(outside.status, 404, "without the per-run secret");
    await assert.rejects(Deno.stat(join(cacheDir, "git-mirrors")), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(join(cacheDir, "git-mirrors-http")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

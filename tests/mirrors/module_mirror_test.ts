import { join } from "node:path";
import assert from "node:assert/strict";
import { assertRejects } from "./_support/assert.ts";
import { startFakeModuleRegistry } from "./_support/fake_module_registry.ts";
import { MiniCore } from "./_support/mini_core.ts";
import { gzip, rawTar } from "./_support/raw_tar.ts";
import { makeRepo } from "./_support/git_repos.ts";
import { ModuleMirror, parseDownloadResponse } from "../../src/mirrors/module_mirror.ts";
import { extractTar } from "../../src/mirrors/tarball.ts";
import { HttpError } from "../../src/proxy/errors.ts";

const HOST = "registry.example.test";

Deno.test("parseDownloadResponse: header, JSON and both forms, relative values resolved", () => {
  const dl = new URL("https://r.example/v1/modules/a/b/c/1.0.0/download");
  const h = (v: string) => new Headers({ "X-Terraform-Get": v });
  const empty = new Uint8Array();
  const json = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
  assert.deepEqual(parseDownloadResponse(204, h("git::https://g/r.git?ref=v1"), empty, dl), {
    source: "git::https://g/r.git?ref=v1",
    form: "header",
  });
  assert.deepEqual(
    parseDownloadResponse(200, h("https://x/a.zip"), json({ location: "https://y/b.zip" }), dl),
    { source: "https://y/b.zip", form: "both", headerSource: "https://x/a.zip" },
  );
  assert.deepEqual(
    parseDownloadResponse(200, h("/m.zip"), json({ location: "https://r.example/m.zip" }), dl),
    { source: "https://r.example/m.zip", form: "both" },
  );
  assert.deepEqual(
    parseDownloadResponse(200, new Headers(), json({ location: "https://y/b.zip" }), dl),
    { source: "https://y/b.zip", form: "json" },
  );
  assert.deepEqual(parseDownloadResponse(200, h("https://x/a.zip"), json({}), dl).form, "header");
  assert.deepEqual(
    parseDownloadResponse(204, h("./archive/m.tar.gz//sub"), empty, dl).source,
    "https://r.example/v1/modules/a/b/c/1.0.0/archive/m.tar.gz//sub",
  );
  assert.deepEqual(
    parseDownloadResponse(204, h("../m.zip"), empty, dl).source,
    "https://r.example/v1/modules/a/b/c/m.zip",
  );
  assert.deepEqual(
    parseDownloadResponse(204, h("/files/m.tgz?x=1"), empty, dl).source,
    "https://r.example/files/m.tgz?x=1",
  );
  let err: unknown;
  try {
    parseDownloadResponse(200, new Headers(), json({ nope: 1 }), dl);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof HttpError && err.status === 502);
});

function setup() {
  const registry = startFakeModuleRegistry();
  const discovered: string[] = [];
  const mirror = new ModuleMirror({
    discover: (host) => {
      discovered.push(host);
      if (host !== HOST) return Promise.reject(new HttpError(404, `no registry at ${host}`));
      return Promise.resolve(registry.modulesV1);
    },
    allowFileRemotes: true,
  });
  const core = new MiniCore([mirror]);
  return { registry, mirror, core, discovered };
}

Deno.test("module mirror: versions cached, unknown module 404, passthrough uncached", async () => {
  const { registry, core } = setup();
  await using _r = registry;
  await using _c = core;
  registry.modules.set(
    "ns/mod/aws",
    new Map([["1.0.0", { form: "header", location: "https://x/m.tgz" }]]),
  );
  const versions = new URL(`modules/${HOST}/ns/mod/aws/versions`, core.baseUrl);
  for (let i = 0; i < 2; i++) {
    const r = await fetch(versions);
    assert.deepEqual(r.status, 200);
    assert.deepEqual((await r.json()).modules[0].versions, [{ version: "1.0.0" }]);
  }
  assert.deepEqual(registry.requests.filter((r) => r.endsWith("/versions")).length, 1);
  assert.deepEqual(core.fills, [`modules/${HOST}/ns/mod/aws/versions.json`]);
  const missing = await fetch(new URL(`modules/${HOST}/ns/nope/aws/versions`, core.baseUrl));
  assert.deepEqual(missing.status, 404);
  await missing.body?.cancel();
  const missingVersion = await fetch(
    new URL(`modules/${HOST}/ns/mod/aws/9.9.9/download`, core.baseUrl),
  );
  assert.deepEqual(missingVersion.status, 404);
  await missingVersion.body?.cancel();
  const other = await fetch(new URL(`modules/${HOST}/ns/mod/aws`, core.baseUrl));
  assert.deepEqual(other.status, 404); // fake answers 404 for the module detail endpoint
  await other.body?.cancel();
  assert.ok(registry.requests.includes("GET /v1/modules/ns/mod/aws"));
  assert.ok(!core.objects.has(`modules/${HOST}/ns/mod/aws`));
});

Deno.test("module mirror: header form, relative archive, subdir, _source artifact cached", async () => {
  const { registry, core, mirror } = setup();
  await using _r = registry;
  await using _c = core;
  registry.files.set(
    "/files/m.tar.gz",
    await gzip(rawTar([
      { name: "main.tf", body: "root" },
      { name: "sub/main.tf", body: "sub" },
    ])),
  );
  registry.modules.set(
    "ns/mod/aws",
    new Map([["1.0.0", { form: "header", location: "/files/m.tar.gz//sub" }]]),
  );
  const dl = new URL(`modules/${HOST}/ns/mod/aws/1.0.0/download`, core.baseUrl);
  const r = await fetch(dl);
  assert.deepEqual(r.status, 204);
  const location = r.headers.get("X-Terraform-Get") ?? "";
  const m = new RegExp(`^${core.baseUrl.href}modules/_source/([0-9a-f]{64})\\.tar\\.gz//sub$`).exec(
    location,
  );
  assert.ok(m !== null, location);
  assert.deepEqual(mirror.sourceFor(m[1] ?? ""), `http::${registry.url}files/m.tar.gz`);
  const artifactUrl = location.replace(/\/\/sub$/, "");
  const head = await fetch(artifactUrl, { method: "HEAD" });
  assert.deepEqual(head.status, 200);
  const a = new Uint8Array(await (await fetch(artifactUrl)).arrayBuffer());
  const b = new Uint8Array(await (await fetch(artifactUrl)).arrayBuffer());
  assert.deepEqual(a, b);
  assert.deepEqual(registry.requests.filter((x) => x.includes("/files/")).length, 1);
  const out = await Deno.makeTempDir();
  try {
    await extractTar(new Blob([a]).stream().pipeThrough(new DecompressionStream("gzip")), out);
    assert.deepEqual(await Deno.readTextFile(join(out, "sub/main.tf")), "sub");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
  // A warm download resolution makes no upstream call; the port-bearing URL is rendered per serve.
  const before = registry.requests.length;
  const again = await fetch(dl);
  await again.body?.cancel();
  assert.deepEqual(again.headers.get("X-Terraform-Get"), location);
  assert.deepEqual(registry.requests.length, before);
  const cached = new TextDecoder().decode(
    core.objects.get(`modules/${HOST}/ns/mod/aws/1.0.0/download.json`)?.bytes,
  );
  assert.ok(
    !cached.includes(core.baseUrl.host),
    "the cached resolution must not embed the cache URL",
  );
});

Deno.test("module mirror: JSON form, git source with subdir, unsupported sources unchanged", async () => {
  const { registry, core } = setup();
  await using _r = registry;
  await using _c = core;
  const root = await Deno.makeTempDir();
  try {
    const repo = await makeRepo(root);
    registry.modules.set(
      "ns/git/aws",
      new Map([
        ["1.0.0", { form: "json", location: `git::file://${repo.bare}//modules/child?ref=v1.0.0` }],
        ["2.0.0", { form: "json", location: "s3::https://s3.amazonaws.com/bucket/m.zip" }],
      ]),
    );
    const r = await fetch(new URL(`modules/${HOST}/ns/git/aws/1.0.0/download`, core.baseUrl));
    assert.deepEqual(r.status, 200);
    const { location } = await r.json();
    assert.ok(
      location.startsWith(`${core.baseUrl.href}modules/_source/`) &&
        location.endsWith(".tar.gz//modules/child"),
      location,
    );
    const tgz = await fetch(location.replace(/\/\/modules\/child$/, ""));
    assert.deepEqual(tgz.headers.get("content-type"), "application/gzip");
    const out = join(root, "out");
    await Deno.mkdir(out);
    await extractTar(tgz.body!.pipeThrough(new DecompressionStream("gzip")), out);
    assert.deepEqual(
      await Deno.readTextFile(join(out, "main.tf")),
      'output "version" { value = "v1" }\n',
    );
    const s3 =
      await (await fetch(new URL(`modules/${HOST}/ns/git/aws/2.0.0/download`, core.baseUrl)))
        .json();
    assert.deepEqual(s3.location, "s3::https://s3.amazonaws.com/bucket/m.zip");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("module mirror: unknown _source ids and malformed paths are refused", async () => {
  const { registry, core, mirror } = setup();
  await using _r = registry;
  await using _c = core;
  const r = await fetch(new URL(`modules/_source/${"a".repeat(64)}.tar.gz`, core.baseUrl));
  assert.deepEqual(r.status, 404);
  assert.ok((await r.text()).includes("download endpoint"));
  const ctx = { fetch, signal: new AbortController().signal, baseUrl: core.baseUrl };
  for (
    const path of [
      "modules/_source/xyz.tar.gz",
      "modules/Bad_Host!/a/b/c/versions",
      "modules/h.example/a/../c/versions",
    ]
  ) {
    await assertRejects(() => mirror.route(new Request("http://x/"), path, ctx), HttpError);
  }
});

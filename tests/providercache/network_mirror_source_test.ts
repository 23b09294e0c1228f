import assert from "node:assert/strict";
import { join } from "node:path";
import { Dir } from "../../src/providercache/dir.ts";
import { InstallerError } from "../../src/providercache/errors.ts";
import { Installer } from "../../src/providercache/installer.ts";
import { NetworkMirrorSource } from "../../src/providercache/sources/network_mirror_source.ts";
import { LockFile } from "../../src/lock/lock_file.ts";
import { parseProviderSource } from "../../src/registry/provider_address.ts";
import { NULL_H1, NULL_ZIP, NULL_ZIP_ZH, tempDir } from "./_support/fixtures.ts";

const NULL = parseProviderSource("hashicorp/null");
const LINUX = { os: "linux", arch: "amd64" };

async function startMirror(hashes: string[]) {
  const zip = await Deno.readFile(NULL_ZIP);
  const counts = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const json = (v: unknown) =>
      new Response(JSON.stringify(v), { headers: { "content-type": "application/json" } });
    const base = "/mirror/registry.terraform.io/hashicorp/null/";
    if (path === base + "index.json") return json({ versions: { "2.1.0": {}, "bogus": {} } });
    if (path === base + "2.1.0.json") {
      return json({
        archives: {
          linux_amd64: { url: "../null/pkg/terraform-provider-null_2.1.0_linux_amd64.zip", hashes },
        },
      });
    }
    if (path === base + "pkg/terraform-provider-null_2.1.0_linux_amd64.zip") {
      return new Response(zip, { headers: { "content-type": "application/zip" } });
    }
    return new Response("not found", { status: 404 });
  });
  return { server, counts, url: `http://127.0.0.1:${server.addr.port}/mirror/` };
}

Deno.test("network mirror: install, relative archive URL, then reuse from the global cache without downloading", async () => {
  await using tmp = await tempDir();
  const mirror = await startMirror([NULL_H1]);
  try {
    const source = new NetworkMirrorSource({ baseUrl: mirror.url });
    const versions = await source.availableVersions(NULL);
    assert.equal(versions.versions.length, 1);
    assert.equal(versions.warnings.length, 1);
    const global = new Dir(join(tmp.path, "global"), { platform: LINUX });
    const mk = (name: string) =>
      new Installer({
        targetDir: new Dir(join(tmp.path, name), { platform: LINUX }),
        globalCacheDir: global,
        source,
      });
    const locks = await mk("a").ensureProviderVersions(new LockFile(), [[NULL, []]], "new-only");
    assert.deepEqual(locks.allProviders()[0]!.hashes, [NULL_H1]);
    // A second configuration without a lock file: the cache entry is reused via its provenance
    // (the mirror reports the h1 it has), so the archive is not downloaded again.
    const locks2 = await mk("b").ensureProviderVersions(new LockFile(), [[NULL, []]], "new-only");
    assert.deepEqual(locks2.allProviders()[0]!.hashes, [NULL_H1]);
    const zipPath =
      "/mirror/registry.terraform.io/hashicorp/null/pkg/terraform-provider-null_2.1.0_linux_amd64.zip";
    assert.equal(mirror.counts.get(zipPath), 1);
  } finally {
    await mirror.server.shutdown();
  }
});

Deno.test("network mirror: a package that doesn't match the mirror's hashes is refused", async () => {
  await using tmp = await tempDir();
  const mirror = await startMirror(["h1:not-it", "zh:" + "0".repeat(64)]);
  try {
    const target = new Dir(join(tmp.path, "t"), { platform: LINUX });
    const installer = new Installer({
      targetDir: target,
      source: new NetworkMirrorSource({ baseUrl: mirror.url }),
    });
    await assert.rejects(
      () => installer.ensureProviderVersions(new LockFile(), [[NULL, []]], "new-only"),
      (e: Error) =>
        e instanceof InstallerError &&
        /doesn't match any of the expected checksums/.test(e.message),
    );
    assert.equal(await target.allAvailablePackages().then((m) => m.size), 0);
    assert.notEqual(NULL_ZIP_ZH, "zh:" + "0".repeat(64));
  } finally {
    await mirror.server.shutdown();
  }
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { MirrorWriter } from "../../src/providercache/mirror_writer.ts";
import { FilesystemMirrorSource } from "../../src/providercache/sources/filesystem_mirror_source.ts";
import { parseProviderSource } from "../../src/registry/provider_address.ts";
import { parseVersion, versionString } from "../../src/registry/version.ts";
import { listTree, NULL_H1, NULL_ZIP, NULL_ZIP_ZH, tempDir } from "./_support/fixtures.ts";
import { MockSource } from "./_support/mock_source.ts";

const NULL = parseProviderSource("hashicorp/null");
const LINUX = { os: "linux", arch: "amd64" };
const DARWIN = { os: "darwin", arch: "arm64" };

Deno.test("MirrorWriter writes terraform's packed layout and JSON indexes, merging existing packages", async () => {
  await using tmp = await tempDir();
  const writer = new MirrorWriter(tmp.path);
  // A package already in the mirror (from an earlier run).
  await writer.addArchive(NULL, parseVersion("2.0.0"), DARWIN, NULL_ZIP);
  const p = await writer.addArchive(NULL, parseVersion("2.1.0"), LINUX, NULL_ZIP, {
    authentication: { kind: "reported-hashes", hashes: [NULL_ZIP_ZH] },
  });
  assert.equal(
    p,
    join(
      tmp.path,
      "registry.terraform.io/hashicorp/null/terraform-provider-null_2.1.0_linux_amd64.zip",
    ),
  );
  await writer.addArchive(NULL, parseVersion("2.1.0"), DARWIN, NULL_ZIP);
  await writer.writeIndexes();
  const dir = join(tmp.path, "registry.terraform.io/hashicorp/null");
  assert.equal(
    await Deno.readTextFile(join(dir, "index.json")),
    '{\n  "versions": {\n    "2.0.0": {},\n    "2.1.0": {}\n  }\n}',
  );
  assert.equal(
    await Deno.readTextFile(join(dir, "2.1.0.json")),
    `{\n  "archives": {\n    "darwin_arm64": {\n      "hashes": [\n        "${NULL_H1}"\n      ],\n      "url": "terraform-provider-null_2.1.0_darwin_arm64.zip"\n    },\n    "linux_amd64": {\n      "hashes": [\n        "${NULL_H1}"\n      ],\n      "url": "terraform-provider-null_2.1.0_linux_amd64.zip"\n    }\n  }\n}`,
  );
  assert.match(await Deno.readTextFile(join(dir, "2.0.0.json")), /darwin_arm64/);
  assert.deepEqual((await listTree(dir)).filter((n) => n.startsWith(".")), [], "no staging files");

  // The result works as a filesystem mirror.
  const fs = new FilesystemMirrorSource(tmp.path);
  const versions = await fs.availableVersions(NULL);
  assert.deepEqual(versions.versions.map(versionString), ["2.0.0", "2.1.0"]);
  const meta = await fs.packageMeta(NULL, parseVersion("2.1.0"), LINUX);
  assert.equal(meta.location.kind, "archive");
});

Deno.test("MirrorWriter refuses a package that fails authentication and leaves nothing", async () => {
  await using tmp = await tempDir();
  const writer = new MirrorWriter(tmp.path);
  const source = new MockSource([{
    provider: NULL,
    version: "2.1.0",
    platform: LINUX,
    location: { kind: "archive", path: NULL_ZIP },
    authentication: { kind: "reported-hashes", hashes: ["h1:something-else"] },
  }]);
  await assert.rejects(
    () => writer.addFromSource(source, NULL, parseVersion("2.1.0"), LINUX),
    /doesn't match the expected checksum/,
  );
  assert.deepEqual(
    (await listTree(tmp.path)).filter((n) => n.endsWith(".zip")),
    [],
  );
  const ok = new MockSource([{
    provider: NULL,
    version: "2.1.0",
    platform: LINUX,
    location: { kind: "archive", path: NULL_ZIP },
    authentication: { kind: "reported-hashes", hashes: [NULL_H1] },
  }]);
  const got = await writer.addFromSource(ok, NULL, parseVersion("2.1.0"), LINUX);
  assert.equal(got.authentication, "verified checksum");
});

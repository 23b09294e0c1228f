import assert from "node:assert/strict";
import { join } from "node:path";
import { Dir } from "../../src/providercache/dir.ts";
import { ArchiveLimitError, UnsafeArchiveEntryError } from "../../src/providercache/errors.ts";
import { extractProviderZip } from "../../src/providercache/zip_extract.ts";
import { ZipFormatError } from "../../src/registry/errors.ts";
import { packageHashV1FromZip } from "../../src/registry/hashes.ts";
import { parseProviderSource } from "../../src/registry/provider_address.ts";
import { parseVersion } from "../../src/registry/version.ts";
import { listTree, NOT_A_ZIP, tempDir } from "./_support/fixtures.ts";
import { writeZip } from "./_support/zips.ts";
import { NO_UNIX_MODES } from "../support/os_guards.ts";

const P = parseProviderSource("example.com/foo/bomb");
const V = parseVersion("1.0.0");
const LINUX = { os: "linux", arch: "amd64" };
const SMALL = { maxEntries: 10, maxFileBytes: 64 * 1024, maxTotalBytes: 128 * 1024 };

async function refused(
  entries: Parameters<typeof writeZip>[1],
  check: (e: Error) => boolean,
): Promise<void> {
  await using tmp = await tempDir();
  const zip = await writeZip(join(tmp.path, "evil.zip"), entries);
  const cache = join(tmp.path, "cache");
  const dir = new Dir(cache, { platform: LINUX, limits: SMALL });
  await assert.rejects(() => dir.installFromArchive(P, V, zip), check);
  assert.equal(await dir.providerVersion(P, V), undefined);
  const tree = await listTree(cache);
  assert.deepEqual(tree.filter((p) => !p.startsWith(".locks")), [
    "example.com",
    "example.com/foo",
    "example.com/foo/bomb",
    "example.com/foo/bomb/1.0.0",
  ], "neither the package nor a temporary directory is left behind");
  assert.deepEqual(await listTree(join(tmp.path, "outside")), []);
  const top = await listTree(tmp.path);
  assert.deepEqual(
    top.filter((p) => !p.startsWith("cache")),
    ["evil.zip"],
    "nothing written outside",
  );
}

Deno.test("hostile zip: '..' traversal entry is refused, nothing left behind", async () => {
  await refused(
    [{ name: "terraform-provider-bomb", data: "ok", mode: 0o100755 }, {
      name: "../x",
      data: "evil",
    }],
    (e) => e instanceof UnsafeArchiveEntryError && /contains '\.\.'/.test(e.message),
  );
  await refused(
    [{ name: "a/../../outside/x", data: "evil" }],
    (e) => e instanceof UnsafeArchiveEntryError,
  );
  await refused(
    [{ name: "a\\..\\..\\x", data: "evil" }],
    (e) => e instanceof UnsafeArchiveEntryError,
  );
});

Deno.test("hostile zip: absolute entry names are refused", async () => {
  await refused(
    [{ name: "/etc/x", data: "evil" }],
    (e) => e instanceof UnsafeArchiveEntryError && /absolute/.test(e.message),
  );
  await refused([{ name: "C:/x", data: "evil" }], (e) => e instanceof UnsafeArchiveEntryError);
});

Deno.test("hostile zip: symlink entry escaping the package is refused", async () => {
  await refused(
    [
      { name: "terraform-provider-bomb", data: "ok", mode: 0o100755 },
      { name: "link", data: "../../outside", mode: 0o120777 },
    ],
    (e) =>
      e instanceof UnsafeArchiveEntryError && /symlink to "\.\.\/\.\.\/outside"/.test(e.message),
  );
  await refused(
    [{ name: "link", data: "/etc/passwd", mode: 0o120777 }],
    (e) => e instanceof UnsafeArchiveEntryError,
  );
});

Deno.test("hostile zip: zip bombs exceeding the limits are refused with clear errors", async () => {
  const zeros = new Uint8Array(200 * 1024);
  await refused(
    [{ name: "terraform-provider-bomb", data: zeros, mode: 0o100755 }],
    (e) =>
      e instanceof ArchiveLimitError && e.limit === "file-bytes" &&
      /larger than 65536 bytes/.test(e.message) && /raise the extraction limit/.test(e.message),
  );
  const chunk = new Uint8Array(60 * 1024);
  await refused(
    [1, 2, 3].map((i) => ({ name: `f${i}`, data: chunk })),
    (e) => e instanceof ArchiveLimitError && e.limit === "total-bytes",
  );
  await refused(
    Array.from({ length: 11 }, (_, i) => ({ name: `f${i}`, data: "x" })),
    (e) => e instanceof ArchiveLimitError && e.limit === "entries",
  );
});

Deno.test("zip extraction keeps the exec bit, maps inner symlinks to files, matches the zip's h1", async () => {
  await using tmp = await tempDir();
  const zip = await writeZip(join(tmp.path, "ok.zip"), [
    { name: "terraform-provider-ok_v1.0.0", data: "#!/bin/sh\n", mode: 0o100755 },
    { name: "docs/README", data: "hello", mode: 0o100644 },
    { name: "docs/link", data: "README", mode: 0o120777 },
  ]);
  const out = join(tmp.path, "out");
  await Deno.mkdir(out);
  await extractProviderZip(zip, out);
  const exe = await Deno.stat(join(out, "terraform-provider-ok_v1.0.0"));
  // Windows has no Unix modes (stat's mode is null; extraction skips chmod there).
  if (!NO_UNIX_MODES) {
    assert.equal(exe.mode! & 0o777, 0o755);
    assert.equal((await Deno.stat(join(out, "docs/README"))).mode! & 0o777, 0o644);
  }
  const link = await Deno.lstat(join(out, "docs/link"));
  assert.equal(link.isSymlink, false, "symlink entries become regular files (go-getter)");
  assert.equal(await Deno.readTextFile(join(out, "docs/link")), "README");
  const dir = new Dir(join(tmp.path, "cache"), { platform: LINUX });
  const entry = await dir.installFromArchive(P, V, zip);
  assert.equal(await entry.hash(), await packageHashV1FromZip(zip));
});

Deno.test("not a zip, and an empty zip, are refused", async () => {
  await using tmp = await tempDir();
  const dir = new Dir(join(tmp.path, "cache"), { platform: LINUX });
  await assert.rejects(() => dir.installFromArchive(P, V, NOT_A_ZIP), ZipFormatError);
  const empty = await writeZip(join(tmp.path, "empty.zip"), []);
  await assert.rejects(() => dir.installFromArchive(P, V, empty), /empty archive/);
  assert.equal(await dir.providerVersion(P, V), undefined);
});

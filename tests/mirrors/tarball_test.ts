import { join } from "node:path";
import { BlobReader, TextReader, Uint8ArrayWriter, ZipWriter } from "npm:@zip.js/zip.js@2.24.0";
import assert from "node:assert/strict";
import { assertRejects } from "./_support/assert.ts";
import { gzip, type RawEntry, rawTar } from "./_support/raw_tar.ts";
import { extractTar, packDirectory } from "../../src/mirrors/tarball.ts";
import { fetchArchive } from "../../src/mirrors/archive_fetch.ts";
import { packModuleSource } from "../../src/mirrors/module_source.ts";
import { UnsafeArchiveError } from "../../src/mirrors/module_source_errors.ts";
import { UpstreamStatusError } from "../../src/proxy/errors.ts";
import { writeFiles } from "./_support/git_repos.ts";
import { NO_UNIX_MODES, SYMLINKS_UNSUPPORTED } from "../support/os_guards.ts";

async function sha256File(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).toHex();
}

async function listTree(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(dir, rel))) {
    const r = rel === "" ? e.name : `${rel}/${e.name}`;
    out.push(e.isDirectory ? `${r}/` : e.isSymlink ? `${r}@` : r);
    if (e.isDirectory) out.push(...await listTree(dir, r));
  }
  return out.sort();
}

// Windows: the tree holds a symlink and the test checks Unix modes.
Deno.test({
  name: "packDirectory is deterministic and normalises metadata",
  ignore: SYMLINKS_UNSUPPORTED || NO_UNIX_MODES,
}, async () => {
  const root = await Deno.makeTempDir();
  try {
    const a = join(root, "a");
    const b = join(root, "b");
    for (const dir of [a, b]) {
      await writeFiles(dir, {
        "main.tf": "x",
        "sub/b.tf": "y",
        "sub/a.tf": "z",
        "bin/run.sh": "#!/bin/sh\n",
      });
      await Deno.chmod(join(dir, "bin/run.sh"), 0o700);
      await Deno.chmod(join(dir, "main.tf"), 0o600);
    }
    await Deno.symlink("sub/a.tf", join(a, "link.tf"));
    await Deno.symlink("sub/a.tf", join(b, "link.tf"));
    await Deno.utime(join(b, "main.tf"), 1, 1_000_000);
    await packDirectory(a, join(root, "a.tgz"));
    await packDirectory(b, join(root, "b.tgz"));
    assert.deepEqual(await sha256File(join(root, "a.tgz")), await sha256File(join(root, "b.tgz")));
    const gz = await Deno.readFile(join(root, "a.tgz"));
    assert.deepEqual([...gz.subarray(0, 10)].slice(3), [0, 0, 0, 0, 0, gz[8] ?? -1, 255]);
    const out = join(root, "out");
    await Deno.mkdir(out);
    await extractTar(new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip")), out);
    assert.deepEqual(await listTree(out), [
      "bin/",
      "bin/run.sh",
      "link.tf",
      "main.tf",
      "sub/",
      "sub/a.tf",
      "sub/b.tf",
    ]);
    assert.deepEqual((await Deno.stat(join(out, "bin/run.sh"))).mode! & 0o777, 0o755);
    assert.deepEqual((await Deno.stat(join(out, "main.tf"))).mode! & 0o777, 0o644);
    assert.deepEqual(await Deno.readTextFile(join(out, "link.tf")), "z");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

// Windows: creating symlinks needs privileges there.
Deno.test({
  name: "packDirectory refuses symlinks that leave the tree and honours limits",
  ignore: SYMLINKS_UNSUPPORTED,
}, async () => {
  const root = await Deno.makeTempDir();
  try {
    const dir = join(root, "t");
    await writeFiles(dir, { "a.tf": "12345" });
    // An existing file outside the tree (/etc/hostname is absent on macOS: the link would dangle).
    const outside = join(root, "outside.tf");
    await Deno.writeTextFile(outside, "secret");
    await Deno.symlink(outside, join(dir, "evil"));
    await assertRejects(
      () => packDirectory(dir, join(root, "x.tgz")),
      UnsafeArchiveError,
      "outside",
    );
    await Deno.remove(join(dir, "evil"));
    const limits = { maxEntries: 10, maxFileBytes: 4, maxTotalBytes: 100 };
    await assertRejects(
      () => packDirectory(dir, join(root, "x.tgz"), { limits }),
      UnsafeArchiveError,
      "larger",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

const attacks: [string, RawEntry[], string][] = [
  ["dot-dot", [{ name: "../evil.tf", body: "x" }], "'..'"],
  ["nested dot-dot", [{ name: "a/../../evil.tf", body: "x" }], "'..'"],
  ["absolute", [{ name: "/tmp/evil.tf", body: "x" }], "absolute"],
  ["absolute symlink", [{ name: "l", type: "2", linkname: "/etc" }], "absolute"],
  ["escaping symlink", [{ name: "l", type: "2", linkname: "../../etc" }], "outside"],
  ["symlink chain escape", [
    { name: "a", type: "2", linkname: "." },
    { name: "b", type: "2", linkname: "a/.." },
  ], "outside"],
  ["write through symlink", [
    { name: "d", type: "2", linkname: "x" },
    { name: "d/evil.tf", body: "x" },
  ], "link"],
  ["hardlink outside", [{ name: "h", type: "1", linkname: "../../etc/passwd" }], "'..'"],
  ["hardlink to unknown", [{ name: "h", type: "1", linkname: "nope" }], "earlier file"],
  ["device", [{ name: "dev", type: "3" }], "unsupported"],
  ["oversize file", [{ name: "big", body: new Uint8Array(2048) }], "larger"],
  [
    "too many entries",
    Array.from({ length: 12 }, (_, i) => ({ name: `f${i}`, body: "x" })),
    "entries",
  ],
];

for (const [label, entries, message] of attacks) {
  // Windows: extraction creates the relative symlinks before resolving them (needs privileges).
  const ignore = SYMLINKS_UNSUPPORTED && label === "symlink chain escape";
  Deno.test(`fetchArchive refuses a tar.gz with ${label} and leaves nothing behind`, {
    ignore,
  }, async () => {
    const tmp = await Deno.makeTempDir();
    const body = await gzip(rawTar(entries));
    const fetch = () => Promise.resolve(new Response(body));
    try {
      await assertRejects(
        () =>
          packModuleSource("https://example.test/m.tar.gz", {
            fetch,
            tempDir: tmp,
            limits: { maxEntries: 10, maxFileBytes: 1024, maxTotalBytes: 4096 },
          }),
        UnsafeArchiveError,
        message,
      );
      assert.deepEqual(await listTree(tmp), []);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  });
}

Deno.test("fetchArchive bounds the total unpacked size (zip bomb style)", async () => {
  const tmp = await Deno.makeTempDir();
  const entries = Array.from(
    { length: 5 },
    (_, i) => ({ name: `f${i}`, body: new Uint8Array(1000) }),
  );
  const body = await gzip(rawTar(entries));
  try {
    await assertRejects(
      () =>
        packModuleSource("https://example.test/m.tgz", {
          fetch: () => Promise.resolve(new Response(body)),
          tempDir: tmp,
          limits: { maxEntries: 10, maxFileBytes: 1024, maxTotalBytes: 4096 },
        }),
      UnsafeArchiveError,
      "more than 4096 bytes",
    );
    assert.deepEqual(await listTree(tmp), []);
    await assertRejects(
      () =>
        packModuleSource("https://example.test/m.tgz", {
          fetch: () => Promise.resolve(new Response(body)),
          tempDir: tmp,
          maxDownloadBytes: 10,
        }),
      Error,
      "limit",
    );
    assert.deepEqual(await listTree(tmp), []);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

async function makeZip(
  files: Record<string, string>,
  opts: Record<string, { unixMode?: number }> = {},
) {
  const writer = new ZipWriter(new Uint8ArrayWriter(), { useWebWorkers: false });
  for (const [name, content] of Object.entries(files)) {
    await writer.add(name, new TextReader(content), { ...opts[name], lastModDate: new Date() });
  }
  return await writer.close();
}

Deno.test("tar.gz and zip of the same tree pack to identical bytes", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const files = { "main.tf": "a", "modules/x/main.tf": "b" };
    const zip = await makeZip(files);
    const tgz = await gzip(rawTar([
      { name: "modules/", type: "5" },
      { name: "modules/x/", type: "5" },
      { name: "modules/x/main.tf", body: "b", mode: 0o664 },
      { name: "./main.tf", body: "a" },
    ]));
    const z = await packModuleSource("https://example.test/m.zip", {
      fetch: () => Promise.resolve(new Response(zip)),
      tempDir: tmp,
    });
    const t = await packModuleSource("https://example.test/dl?archive=tar.gz", {
      fetch: () => Promise.resolve(new Response(tgz)),
      tempDir: tmp,
    });
    assert.deepEqual(await sha256File(z.path), await sha256File(t.path));
    await z.dispose();
    await t.dispose();
    assert.deepEqual(await listTree(tmp), []);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("zip extraction refuses escaping symlinks (zip.js itself refuses to write ../ names)", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    for (
      const [files, opts, message] of [
        [{ "l": "/etc" }, { l: { unixMode: 0o120777 } }, "absolute"],
        [{ "l": "../../x" }, { l: { unixMode: 0o120777 } }, "outside"],
      ] as const
    ) {
      const zip = await makeZip(files, opts);
      await assertRejects(
        () =>
          packModuleSource("https://example.test/m.zip", {
            fetch: () => Promise.resolve(new Response(zip)),
            tempDir: tmp,
          }),
        UnsafeArchiveError,
        message,
      );
      assert.deepEqual(await listTree(tmp), []);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("fetchArchive reports upstream status errors", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    await assertRejects(
      () =>
        fetchArchive({ type: "archive", url: "https://example.test/m.zip", format: "zip" }, tmp, {
          fetch: () => Promise.resolve(new Response("nope", { status: 403 })),
        }),
      UpstreamStatusError,
      "403",
    );
    assert.ok((await listTree(tmp)).length === 0);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("BlobReader import stays used", () => {
  assert.ok(typeof BlobReader === "function");
});

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { configure, Uint8ArrayReader, ZipWriter } from "npm:@zip.js/zip.js@2.24.0";
import {
  hashScheme,
  matchesAnyHash,
  matchesHash,
  matchingHashes,
  packageHashV1FromDir,
  packageHashV1FromFiles,
  packageHashV1FromZip,
  parseHash,
  preferredHashes,
  sha256File,
  zipHash,
} from "../../src/registry/hashes.ts";
import { HashFormatError, ZipFormatError } from "../../src/registry/errors.ts";
import { DIRHASH, SIGNING } from "./_support/registry_server.ts";
import { SYMLINKS_UNSUPPORTED } from "../support/os_guards.ts";

configure({ useWebWorkers: false });

const NULL_H1 = "h1:qjsREM4DqEWECD43FcPqddZ9oxCG+IaMTxvWPciS05g=";
const NULL_ZH = "zh:299dd806df78cb0537e5c111019eaca6e6b7797e1b63cb37cc6a76f91c6c0782";
const BEEP_H1 = "h1:2y06Ykj0FRneZfGCTxI9wRTori8iB7ZL5kQ6YyEnh84=";
const EMPTY_H1 = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
const NULL_ZIP = new URL("terraform-provider-null_2.1.0_linux_amd64.zip", DIRHASH);
const NOT_A_ZIP = new URL(
  "placeholder-not-a-zip_terraform-provider-null_2.1.0_linux_amd64.zip",
  DIRHASH,
);
const SAMPLE_ZIP = new URL("terraform-sample_0.1.0_darwin_amd64.zip", SIGNING);

/** An independent Hash1: sorted `<hex>  <name>\n` lines, base64 of their SHA-256. */
function referenceH1(files: Array<[string, Uint8Array]>): string {
  const sorted = [...files].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  let summary = "";
  for (const [name, data] of sorted) {
    summary += `${createHash("sha256").update(data).digest("hex")}  ${name}\n`;
  }
  return "h1:" + createHash("sha256").update(summary).digest("base64");
}

async function makeZip(
  path: string,
  entries: Array<[string, Uint8Array | "dir"]>,
): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const writer = new ZipWriter(file.writable);
  for (const [name, data] of entries) {
    if (data === "dir") await writer.add(name, undefined, { directory: true });
    else await writer.add(name, new Uint8ArrayReader(data));
  }
  await writer.close();
}

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("h1: of the dirhash fixtures (directory form)", async () => {
  assert.equal(await packageHashV1FromDir(new URL("beep-provider/", DIRHASH)), BEEP_H1);
  assert.equal(
    await packageHashV1FromDir(new URL("cachedir-null-2.0.0-darwin_amd64/", DIRHASH)),
    NULL_H1,
  );
});

Deno.test("h1: and zh: of the fixture zips (zip form, no unpacking)", async () => {
  assert.equal(await packageHashV1FromZip(NULL_ZIP), NULL_H1);
  assert.equal(await zipHash(NULL_ZIP), NULL_ZH);
  assert.equal(await zipHash(await Deno.readFile(NULL_ZIP)), NULL_ZH);
  assert.equal(
    await zipHash(SAMPLE_ZIP),
    "zh:22db2f0c70b50cff42afd4878fea9f6848a63f1b6532bd8b64b899f574acb35d",
  );
  assert.equal(
    await packageHashV1FromZip(SAMPLE_ZIP.pathname),
    "h1:mDR0Q2eYA+3fAtyWdXp1raVqxhSY+gnzonNGDari0Zg=",
  );
});

Deno.test("a file that is not a zip gives a clear ZipFormatError (its zh: still works)", async () => {
  assert.equal(
    await zipHash(NOT_A_ZIP),
    "zh:4fb39849f2e138eb16a18ba0c682635d781cb8c3b25901dd5a792ade9711f501",
  );
  const err = await packageHashV1FromZip(NOT_A_ZIP).catch((e: unknown) => e);
  assert.ok(err instanceof ZipFormatError);
  assert.match(err.message, /^File ".*placeholder-not-a-zip.*" is not a valid zip archive: /);
  await assert.rejects(packageHashV1FromZip("/nonexistent/x.zip"), Deno.errors.NotFound);
});

Deno.test("h1: of an empty package and of in-memory files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tfcache-h1-" });
  try {
    assert.equal(await packageHashV1FromDir(dir), EMPTY_H1);
    await Deno.mkdir(join(dir, "empty", "nested"), { recursive: true });
    assert.equal(await packageHashV1FromDir(dir), EMPTY_H1, "empty directories contribute nothing");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(packageHashV1FromFiles(new Map()), EMPTY_H1);
  const content = await Deno.readFile(
    new URL("cachedir-null-2.0.0-darwin_amd64/terraform-provider-null", DIRHASH),
  );
  assert.equal(packageHashV1FromFiles(new Map([["terraform-provider-null", content]])), NULL_H1);
  assert.equal(
    packageHashV1FromFiles(new Map([["terraform-provider-null.exe", content]])),
    "h1:kGhswZiaZEZCbem7JPB+GCzba57SfLtNV20LNIBP1CU=",
  );
});

Deno.test("directory walk: nested paths with '/', bytewise order, symlinked files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tfcache-h1-" });
  try {
    const files: Array<[string, Uint8Array]> = [
      ["terraform-provider-x", enc("binary")],
      ["docs/README.md", enc("readme\n")],
      ["docs/a/b/deep.txt", enc("deep")],
      ["Z-upper", enc("upper sorts first")],
      ["é-accent", enc("non-ascii name")],
      ["\u{1F600}-emoji", enc("astral")],
      ["\uFF5E-fullwidth", enc("BMP above surrogates")],
    ];
    for (const [name, data] of files) {
      await Deno.mkdir(join(dir, ...name.split("/").slice(0, -1)), { recursive: true });
      await Deno.writeFile(join(dir, ...name.split("/")), data);
    }
    // Modes do not matter.
    await Deno.chmod(join(dir, "terraform-provider-x"), 0o755);
    const expected = referenceH1(files);
    assert.equal(await packageHashV1FromDir(dir), expected);
    assert.equal(packageHashV1FromFiles(new Map(files)), expected);

    // Windows: creating symlinks needs privileges there; the part above still runs.
    if (SYMLINKS_UNSUPPORTED) return;
    // A symlinked file is hashed by its target's content, under the link's name.
    const outside = await Deno.makeTempFile();
    try {
      await Deno.writeFile(outside, enc("linked"));
      await Deno.symlink(outside, join(dir, "link"));
      assert.equal(
        await packageHashV1FromDir(dir),
        referenceH1([...files, ["link", enc("linked")]]),
      );
      // The package root itself may be a symlink.
      const rootLink = `${dir}-link`;
      await Deno.symlink(dir, rootLink);
      try {
        assert.equal(
          await packageHashV1FromDir(rootLink),
          referenceH1([...files, ["link", enc("linked")]]),
        );
      } finally {
        await Deno.remove(rootLink);
      }
      // A symlink to a directory is an error, as in Go (reading a directory fails).
      await Deno.symlink(join(dir, "docs"), join(dir, "docs-link"));
      await assert.rejects(packageHashV1FromDir(dir), /symlink to a directory/);
    } finally {
      await Deno.remove(outside);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("packageHashV1FromDir rejects a file and a missing path", async () => {
  await assert.rejects(packageHashV1FromDir(NULL_ZIP), /is not a directory/);
  await assert.rejects(packageHashV1FromDir("/nonexistent/dir"), Deno.errors.NotFound);
});

Deno.test("zip form: nested entries, and explicit directory entries are hashed (x/mod quirk)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tfcache-h1zip-" });
  try {
    const files: Array<[string, Uint8Array]> = [
      ["terraform-provider-y_v1.0.0", new Uint8Array(300_000).map((_, i) => (i * 7) % 251)],
      ["sub/file.txt", enc("hello\n")],
      ["CHANGELOG.md", enc("# changes\n")],
    ];
    const plain = join(dir, "plain.zip");
    await makeZip(plain, files);
    assert.equal(await packageHashV1FromZip(plain), referenceH1(files));

    const withDirs = join(dir, "dirs.zip");
    await makeZip(withDirs, [["sub/", "dir"], ...files]);
    assert.equal(
      await packageHashV1FromZip(withDirs),
      referenceH1([["sub/", new Uint8Array()], ...files]),
    );
    assert.notEqual(await packageHashV1FromZip(withDirs), referenceH1(files));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a corrupted zip entry is reported (CRC check)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tfcache-h1crc-" });
  try {
    const path = join(dir, "x.zip");
    const file = await Deno.open(path, { write: true, create: true });
    const writer = new ZipWriter(file.writable);
    await writer.add("data.bin", new Uint8ArrayReader(enc("A".repeat(1000))), { level: 0 });
    await writer.close();
    const bytes = await Deno.readFile(path);
    const at = bytes.indexOf(0x41); // first byte of the stored content
    bytes[at + 10] = 0x42;
    await Deno.writeFile(path, bytes);
    const err = await packageHashV1FromZip(path).catch((e: unknown) => e);
    assert.ok(err instanceof ZipFormatError, String(err));
    assert.match(err.message, /cannot read entry "data\.bin"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a 50 MiB generated zip is hashed by streaming", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tfcache-h1big-" });
  try {
    const path = join(dir, "big.zip");
    const size = 50 * 1024 * 1024;
    const chunk = 1024 * 1024;
    const contentHash = createHash("sha256");
    let seed = 12345;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (seed < 0) return controller.close();
        const block = new Uint8Array(chunk);
        for (let i = 0; i < chunk; i += 4) {
          seed = (seed * 1103515245 + 12345) >>> 0;
          block[i] = seed & 0xff;
          block[i + 1] = (seed >>> 8) & 0x0f; // half-compressible
          block[i + 2] = 0;
          block[i + 3] = i & 0xff;
        }
        contentHash.update(block);
        controller.enqueue(block);
        if (++generated === size / chunk) seed = -1;
      },
    });
    let generated = 0;
    const file = await Deno.open(path, { write: true, create: true });
    const writer = new ZipWriter(file.writable, { zip64: false });
    await writer.add("terraform-provider-big", stream);
    await writer.add("LICENSE", new Uint8ArrayReader(enc("MIT\n")));
    await writer.close();

    const summary = [
      `${createHash("sha256").update(enc("MIT\n")).digest("hex")}  LICENSE\n`,
      `${contentHash.digest("hex")}  terraform-provider-big\n`,
    ].join("");
    const expected = "h1:" + createHash("sha256").update(summary).digest("base64");
    assert.equal(await packageHashV1FromZip(path), expected);

    const whole = await Deno.readFile(path);
    assert.equal(await zipHash(path), "zh:" + createHash("sha256").update(whole).digest("hex"));
    assert.equal(await sha256File(path), createHash("sha256").update(whole).digest("hex"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseHash, hashScheme and preferredHashes follow terraform", () => {
  assert.deepEqual(parseHash("h1:abc="), { scheme: "h1:", value: "abc=" });
  assert.deepEqual(parseHash("test:foo"), { scheme: "test:", value: "foo" });
  assert.deepEqual(parseHash("unknown:"), { scheme: "unknown:", value: "" });
  assert.equal(hashScheme(NULL_ZH), "zh:");
  for (const bad of ["", "nocolon", ":leading"]) {
    assert.throws(() => parseHash(bad), (e: unknown) => {
      assert.ok(e instanceof HashFormatError);
      assert.match(e.message, /scheme keyword followed by a colon/);
      return true;
    });
  }
  assert.deepEqual(preferredHashes(["h0:x", NULL_H1, "test:y", NULL_ZH]), [NULL_H1, NULL_ZH]);
});

Deno.test("matchesHash is strict, matchesAnyHash / matchingHashes are lenient", async () => {
  const dir = new URL("cachedir-null-2.0.0-darwin_amd64/", DIRHASH);
  assert.equal(await matchesHash(NULL_ZIP, NULL_H1), true);
  assert.equal(await matchesHash(NULL_ZIP, NULL_ZH), true);
  assert.equal(await matchesHash(NULL_ZIP, BEEP_H1), false);
  assert.equal(await matchesHash(dir, NULL_H1), true);
  await assert.rejects(matchesHash(dir, NULL_ZH), /ziphash scheme .* not supported for unpacked/);
  await assert.rejects(matchesHash(NULL_ZIP, "h9:xyz"), /unsupported hash format/);

  assert.deepEqual(
    await matchingHashes(NULL_ZIP, ["h9:xyz", BEEP_H1, NULL_ZH, NULL_H1]),
    [NULL_ZH, NULL_H1],
  );
  assert.deepEqual(await matchingHashes(dir, [NULL_ZH, NULL_H1]), [NULL_H1]);
  assert.equal(await matchesAnyHash(dir, [NULL_ZH]), false);
  assert.equal(await matchesAnyHash(dir, []), false);
  assert.equal(await matchesAnyHash(NULL_ZIP, ["zz:1", NULL_ZH]), true);
  await assert.rejects(matchesAnyHash(NOT_A_ZIP, [NULL_H1]), ZipFormatError);
});

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { crc32, deflateRawSync } from "node:zlib";
import {
  configure,
  Uint8ArrayReader,
  Uint8ArrayWriter,
  ZipReader,
  ZipWriter,
} from "npm:@zip.js/zip.js@2.24.0";
import { concatBytes } from "../../src/_shared/bytes.ts";
import { ZipFormatError } from "../../src/registry/errors.ts";
import { packageHashV1FromDir, packageHashV1FromZip } from "../../src/registry/hashes.ts";
import { ZipArchive, type ZipProblem, ZipStructureError } from "../../src/registry/zip_reader.ts";
import { extractProviderZip } from "../../src/providercache/zip_extract.ts";
import { ArchiveLimitError } from "../../src/providercache/errors.ts";
import { fakeProviderZip, fakeProviderZipInfo } from "../support/fake_provider_zip.ts";
import { DIRHASH } from "./_support/registry_server.ts";

configure({ useWebWorkers: false });

const enc = (s: string) => new TextEncoder().encode(s);

/** One entry of a hand-built zip; every header field can be overridden to make it lie. */
interface RawEntry {
  name: string;
  data: Uint8Array;
  method?: number;
  flags?: number;
  crc?: number;
  compressedSize?: number;
  uncompressedSize?: number;
  /** Replaces the stored bytes (after compression). */
  stored?: Uint8Array;
}

interface Built {
  bytes: Uint8Array<ArrayBuffer>;
  view: DataView;
  local: number[];
  central: number[];
  cdOffset: number;
  eocd: number;
}

/** A minimal, independent zip writer (no data descriptors, Unix 0755 entries). */
function buildZip(entries: readonly RawEntry[], comment = new Uint8Array()): Built {
  const parts: Uint8Array[] = [];
  const local: number[] = [];
  const meta: { name: Uint8Array; e: RawEntry; stored: Uint8Array; crc: number }[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc(e.name);
    const method = e.method ?? 0;
    const stored = e.stored ?? (method === 8 ? new Uint8Array(deflateRawSync(e.data)) : e.data);
    const crc = e.crc ?? crc32(e.data);
    const h = new DataView(new ArrayBuffer(30));
    h.setUint32(0, 0x04034b50, true);
    h.setUint16(4, 20, true);
    h.setUint16(6, e.flags ?? 0, true);
    h.setUint16(8, method, true);
    h.setUint32(14, crc, true);
    h.setUint32(18, e.compressedSize ?? stored.length, true);
    h.setUint32(22, e.uncompressedSize ?? e.data.length, true);
    h.setUint16(26, name.length, true);
    local.push(offset);
    parts.push(new Uint8Array(h.buffer), name, stored);
    offset += 30 + name.length + stored.length;
    meta.push({ name, e, stored, crc });
  }
  const cdOffset = offset;
  const central: number[] = [];
  meta.forEach(({ name, e, stored, crc }, i) => {
    const c = new DataView(new ArrayBuffer(46));
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, (3 << 8) | 20, true);
    c.setUint16(6, 20, true);
    c.setUint16(8, e.flags ?? 0, true);
    c.setUint16(10, e.method ?? 0, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, e.compressedSize ?? stored.length, true);
    c.setUint32(24, e.uncompressedSize ?? e.data.length, true);
    c.setUint16(28, name.length, true);
    c.setUint32(38, (0o100755 << 16) >>> 0, true);
    c.setUint32(42, local[i]!, true);
    central.push(offset);
    parts.push(new Uint8Array(c.buffer), name);
    offset += 46 + name.length;
  });
  const eocdView = new DataView(new ArrayBuffer(22));
  eocdView.setUint32(0, 0x06054b50, true);
  eocdView.setUint16(8, entries.length, true);
  eocdView.setUint16(10, entries.length, true);
  eocdView.setUint32(12, offset - cdOffset, true);
  eocdView.setUint32(16, cdOffset, true);
  eocdView.setUint16(20, comment.length, true);
  const eocd = offset;
  parts.push(new Uint8Array(eocdView.buffer), comment);
  const bytes = concatBytes(parts);
  return { bytes, view: new DataView(bytes.buffer), local, central, cdOffset, eocd };
}

function referenceH1(files: Array<[string, Uint8Array]>): string {
  const sorted = [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let summary = "";
  for (const [name, data] of sorted) {
    summary += `${createHash("sha256").update(data).digest("hex")}  ${name}\n`;
  }
  return "h1:" + createHash("sha256").update(summary).digest("base64");
}

async function withZip<T>(
  bytes: Uint8Array,
  fn: (path: string, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "tfcache-zipreader-" });
  try {
    const path = join(dir, "x.zip");
    await Deno.writeFile(path, bytes);
    return await fn(path, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Asserts that hashing the zip fails with `problem` (and a message mentioning `pattern`). */
async function refused(bytes: Uint8Array, problem: ZipProblem, pattern?: RegExp): Promise<void> {
  await withZip(bytes, async (path) => {
    const err = await packageHashV1FromZip(path).catch((e: unknown) => e);
    assert.ok(err instanceof ZipStructureError, `expected a ZipStructureError, got ${err}`);
    assert.ok(err instanceof ZipFormatError);
    assert.equal(err.problem, problem, err.message);
    assert.match(err.message, /^File ".*x\.zip" is not a valid zip archive: /);
    if (pattern !== undefined) assert.match(err.message, pattern);
  });
}

const PAYLOAD = enc("#!/bin/sh\necho provider\n".repeat(200));

Deno.test("zip reader: a hand-built STORE + DEFLATE zip reads back exactly", async () => {
  const files: Array<[string, Uint8Array]> = [
    ["terraform-provider-x_v1.0.0", PAYLOAD],
    ["docs/README.md", enc("hello\n")],
    ["empty", new Uint8Array()],
  ];
  const built = buildZip([
    { name: files[0]![0], data: files[0]![1], method: 8 },
    { name: files[1]![0], data: files[1]![1] },
    { name: files[2]![0], data: files[2]![1], method: 8 },
  ], enc("a comment"));
  await withZip(built.bytes, async (path) => {
    using zip = await ZipArchive.open(path);
    assert.deepEqual(zip.entries.map((e) => [e.name, e.method, e.uncompressedSize]), [
      ["terraform-provider-x_v1.0.0", 8, PAYLOAD.length],
      ["docs/README.md", 0, 6],
      ["empty", 8, 0],
    ]);
    const chunks: Uint8Array<ArrayBuffer>[] = [];
    await zip.read(zip.entries[0]!, (c) => {
      chunks.push(c.slice());
    });
    assert.deepEqual(new Uint8Array(await new Blob(chunks).arrayBuffer()), PAYLOAD);
    assert.equal(await packageHashV1FromZip(path), referenceH1(files));
  });
});

Deno.test("zip reader: same h1 as before on the fixtures and fake provider zips", async () => {
  assert.equal(
    await packageHashV1FromZip(
      new URL("terraform-provider-null_2.1.0_linux_amd64.zip", DIRHASH),
    ),
    "h1:qjsREM4DqEWECD43FcPqddZ9oxCG+IaMTxvWPciS05g=",
  );
  const notZip = new URL(
    "placeholder-not-a-zip_terraform-provider-null_2.1.0_linux_amd64.zip",
    DIRHASH,
  );
  const err = await packageHashV1FromZip(notZip).catch((e: unknown) => e);
  assert.ok(err instanceof ZipStructureError && err.problem === "not-a-zip", String(err));
  for (const sizeBytes of [0, 1000, 3 * 1024 * 1024 + 17]) {
    const spec = {
      namespace: "t",
      type: "alpha",
      version: "1.2.3",
      platform: "linux_amd64",
      sizeBytes,
    };
    await withZip(fakeProviderZip(spec), async (path) => {
      assert.equal(await packageHashV1FromZip(path), fakeProviderZipInfo(spec).h1);
    });
  }
});

Deno.test("zip reader: equivalent to zip.js on generated zips (deflate, store, dirs, unicode)", async () => {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let round = 0; round < 6; round++) {
    const writer = new ZipWriter(new Uint8ArrayWriter());
    const names = new Set<string>();
    const count = 1 + Math.floor(random() * 12);
    for (let i = 0; i < count; i++) {
      const dir = random() < 0.15;
      let name = `${["", "sub/", "a/b/", "é/"][Math.floor(random() * 4)]}f${i}${
        ["", ".txt", "-\u{1F600}"][Math.floor(random() * 3)]
      }`;
      if (dir) name += "/";
      if (names.has(name)) continue;
      names.add(name);
      if (dir) {
        await writer.add(name, undefined, { directory: true });
        continue;
      }
      const size = Math.floor(random() * (random() < 0.2 ? 2_500_000 : 5000));
      const data = new Uint8Array(size);
      for (let j = 0; j < size; j++) data[j] = random() < 0.5 ? 0x41 : (random() * 256) | 0;
      await writer.add(name, new Uint8ArrayReader(data), { level: random() < 0.3 ? 0 : 6 });
    }
    const bytes = await writer.close();
    // The reference: zip.js reads every entry (directories included, empty), then Hash1.
    const reader = new ZipReader(new Uint8ArrayReader(bytes));
    const files: Array<[string, Uint8Array]> = [];
    for (const entry of await reader.getEntries()) {
      const data = entry.directory
        ? new Uint8Array()
        : await entry.getData!(new Uint8ArrayWriter(), { checkCrc32: true });
      files.push([entry.filename, data]);
    }
    await reader.close();
    await withZip(bytes, async (path) => {
      assert.equal(await packageHashV1FromZip(path), referenceH1(files), `round ${round}`);
      using zip = await ZipArchive.open(path);
      assert.deepEqual(zip.entries.map((e) => e.name), files.map(([n]) => n));
    });
  }
});

Deno.test("zip reader: missing EOCD, truncation and offsets outside the file are refused", async () => {
  const good = buildZip([{ name: "f", data: PAYLOAD, method: 8 }]).bytes;
  await refused(new Uint8Array(10), "not-a-zip", /too short/);
  await refused(
    enc("PK this is not a zip, just text ".repeat(20)),
    "not-a-zip",
    /no end of central/,
  );
  // Cut in the middle: the EOCD is gone.
  await refused(good.subarray(0, good.length >> 1), "not-a-zip");
  // Data cut out before the central directory: its offset now points past it.
  const b = buildZip([{ name: "f", data: PAYLOAD, method: 8 }]);
  await refused(
    new Uint8Array([...b.bytes.subarray(0, 40), ...b.bytes.subarray(b.cdOffset)]),
    "bad-offset",
    /overlaps the end record|outside/,
  );
  // A central directory offset past the end of the file.
  const far = buildZip([{ name: "f", data: PAYLOAD }]);
  far.view.setUint32(far.eocd + 16, far.bytes.length + 1000, true);
  await refused(far.bytes, "bad-offset");
  // A local header offset outside the entries' area, or at a place with no local header.
  const lho = buildZip([{ name: "f", data: PAYLOAD }]);
  lho.view.setUint32(lho.central[0]! + 42, lho.cdOffset + 2, true);
  await refused(lho.bytes, "bad-offset", /cannot read entry "f": .*local header offset/);
  const shifted = buildZip([{ name: "f", data: PAYLOAD }]);
  shifted.view.setUint32(shifted.central[0]! + 42, 5, true);
  await refused(shifted.bytes, "bad-header", /no local file header/);
  // Data that runs into the central directory.
  const long = buildZip([{ name: "f", data: PAYLOAD }]);
  long.view.setUint32(long.central[0]! + 20, PAYLOAD.length + 100, true);
  long.view.setUint32(long.central[0]! + 24, PAYLOAD.length + 100, true);
  await refused(long.bytes, "size-mismatch", /local header declares/);
  // A corrupt central directory signature, and an entry count that does not fit.
  const sig = buildZip([{ name: "f", data: PAYLOAD }]);
  sig.view.setUint32(sig.central[0]!, 0x12345678, true);
  await refused(sig.bytes, "bad-header", /central directory entry 0/);
  const count = buildZip([{ name: "f", data: PAYLOAD }]);
  count.view.setUint16(count.eocd + 8, 50, true);
  count.view.setUint16(count.eocd + 10, 50, true);
  await refused(count.bytes, "bad-header", /cannot fit/);
});

Deno.test("zip reader: zip64, multi-disk, encryption and unknown methods are refused", async () => {
  const z64 = buildZip([{ name: "f", data: PAYLOAD }]);
  z64.view.setUint32(z64.central[0]! + 20, 0xffffffff, true);
  await refused(z64.bytes, "zip64", /cannot read entry "f": zip64 entries are not supported/);
  const z64count = buildZip([{ name: "f", data: PAYLOAD }]);
  z64count.view.setUint16(z64count.eocd + 8, 0xffff, true);
  z64count.view.setUint16(z64count.eocd + 10, 0xffff, true);
  await refused(z64count.bytes, "zip64", /zip64 archives are not supported/);
  const disk = buildZip([{ name: "f", data: PAYLOAD }]);
  disk.view.setUint16(disk.eocd + 4, 1, true);
  await refused(disk.bytes, "multi-disk");
  await refused(
    buildZip([{ name: "secret", data: PAYLOAD, flags: 1 }]).bytes,
    "encrypted",
    /cannot read entry "secret": encrypted entries are not supported/,
  );
  await refused(
    buildZip([{ name: "bz", data: PAYLOAD, method: 12, stored: enc("BZh9...") }]).bytes,
    "unsupported-method",
    /compression method 12 is not supported/,
  );
  await refused(
    buildZip([{ name: "odd", data: PAYLOAD, compressedSize: 3 }]).bytes,
    "size-mismatch",
    /stored uncompressed but declares/,
  );
});

Deno.test("zip reader: lying sizes, bad CRC, corrupt DEFLATE and overlapping entries", async () => {
  // A DEFLATE stream that inflates beyond its declared size (the bomb pattern): stops early.
  const big = new Uint8Array(8 * 1024 * 1024);
  await refused(
    buildZip([{ name: "bomb", data: big, method: 8, uncompressedSize: 1000 }]).bytes,
    "size-mismatch",
    /inflates beyond the declared 1000 bytes/,
  );
  await refused(
    buildZip([{ name: "short", data: PAYLOAD, method: 8, uncompressedSize: PAYLOAD.length + 5 }])
      .bytes,
    "size-mismatch",
    /ends after/,
  );
  await refused(
    buildZip([{ name: "crc", data: PAYLOAD, method: 8, crc: 1234 }]).bytes,
    "crc-mismatch",
    /cannot read entry "crc": CRC-32 mismatch/,
  );
  const garbage = new Uint8Array(300).map((_, i) => (i * 97 + 13) & 0xff);
  garbage[0] = 0xff; // BTYPE 11: an invalid block type
  await refused(
    buildZip([{ name: "junk", data: PAYLOAD, method: 8, stored: garbage }]).bytes,
    "corrupt-data",
    /DEFLATE data is corrupt/,
  );
  // Two central entries pointing at the same local header (overlapping files).
  const twice = buildZip([{ name: "a", data: PAYLOAD }, { name: "b", data: PAYLOAD }]);
  twice.view.setUint32(twice.central[1]! + 42, twice.local[0]!, true);
  await refused(twice.bytes, "bad-offset", /overlaps entry "a"/);
  // A directory entry with content.
  await refused(
    buildZip([{ name: "d/", data: enc("not empty") }]).bytes,
    "size-mismatch",
    /directory entry must be empty/,
  );
});

Deno.test("zip reader: reads are checked against the archive and its state", async () => {
  const built = buildZip([{ name: "f", data: PAYLOAD }]);
  await withZip(built.bytes, async (path) => {
    const zip = await ZipArchive.open(path);
    const entry = zip.entries[0]!;
    await assert.rejects(
      zip.read({ ...entry }, () => {}),
      /not an entry of/,
    );
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await assert.rejects(zip.read(entry, () => {}, { signal: controller.signal }), /stop/);
    zip.close();
    zip.close();
    await assert.rejects(zip.read(entry, () => {}), /is closed/);
  });
});

Deno.test("extraction with the reader: bombs beyond the limits, and the h1 computed while writing", async () => {
  const limits = { maxEntries: 10, maxFileBytes: 64 * 1024, maxTotalBytes: 100 * 1024 };
  // Honest headers beyond the limits: refused before anything is inflated.
  await withZip(
    buildZip([{ name: "big", data: new Uint8Array(200 * 1024), method: 8 }]).bytes,
    async (path, dir) => {
      await Deno.mkdir(join(dir, "out"));
      const err = await extractProviderZip(path, join(dir, "out"), { limits }).catch((e) => e);
      assert.ok(err instanceof ArchiveLimitError && err.limit === "file-bytes", String(err));
    },
  );
  // Lying headers: the reader stops at the declared size.
  await withZip(
    buildZip([{ name: "big", data: new Uint8Array(200 * 1024), method: 8, uncompressedSize: 10 }])
      .bytes,
    async (path, dir) => {
      await Deno.mkdir(join(dir, "out"));
      const err = await extractProviderZip(path, join(dir, "out"), { limits }).catch((e) => e);
      assert.ok(err instanceof ZipStructureError && err.problem === "size-mismatch", String(err));
    },
  );
  // The returned h1 is the directory's.
  const files: Array<[string, Uint8Array]> = [
    ["terraform-provider-x_v1", PAYLOAD],
    ["docs/a.txt", enc("a")],
    ["docs/b.txt", enc("b")],
  ];
  await withZip(
    buildZip([
      { name: "docs/", data: new Uint8Array() },
      ...files.map(([name, data]) => ({ name, data, method: 8 })),
    ]).bytes,
    async (path, dir) => {
      const out = join(dir, "out");
      await Deno.mkdir(out);
      const result = await extractProviderZip(path, out);
      assert.equal(result.h1, referenceH1(files));
      assert.equal(result.h1, await packageHashV1FromDir(out));
      assert.equal(result.files, 3);
    },
  );
});

import assert from "node:assert/strict";
import { InvalidKeyError, SizeMismatchError } from "../../src/proxy/errors.ts";
import { FileStore } from "../../src/proxy/file_store.ts";
import type { ObjectInfo } from "../../src/proxy/route.ts";
import type { StagedObject } from "../../src/proxy/store.ts";
import { filesUnder, patternBytes, sha256Hex } from "./_support/fixtures.ts";

const enc = new TextEncoder();

async function withStore(
  fn: (store: FileStore, root: string) => Promise<void>,
  options: ConstructorParameters<typeof FileStore>[1] = {},
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "tfcache-store-" });
  try {
    await fn(new FileStore(root, options), root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("FileStore commit, stat and open round trip on a nested key", async () => {
  await withStore(async (store, root) => {
    const body = enc.encode('{"versions":{}}');
    const key = "providers/example.com/acme/thing/index.json";
    const info = await store.commit(key, ReadableStream.from([body]), {
      kind: "metadata",
      contentType: "application/json",
      extra: { note: "x" },
    });
    assert.equal(info.size, body.byteLength);
    assert.equal(info.sha256, await sha256Hex(body));
    assert.equal(info.kind, "metadata");
    assert.equal(info.contentType, "application/json");
    assert.deepEqual(info.extra, { note: "x" });
    assert.deepEqual(await filesUnder(root), [`${key}`, `${key}.metadata.json`]);

    const sidecar = JSON.parse(await Deno.readTextFile(`${root}/${key}.metadata.json`));
    assert.equal(sidecar.sha256, info.sha256);
    assert.equal(sidecar.size, body.byteLength);
    assert.equal(sidecar.kind, "metadata");
    assert.equal(sidecar.content_type, "application/json");
    assert.ok(!Number.isNaN(Date.parse(sidecar.fetched_at)));

    const stat = await store.stat(key);
    assert.deepEqual(stat, info);
    const opened = await store.open(key);
    assert.deepEqual(opened.info, info);
    assert.deepEqual(await readAll(opened.body), body);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(`${root}/${key}`)).mode! & 0o777, 0o644);
    }
  });
});

Deno.test("FileStore commits multi-megabyte streams and serves ranges", async () => {
  await withStore(async (store) => {
    const body = patternBytes(3 * 1024 * 1024 + 17);
    const chunks = [body.subarray(0, 1), body.subarray(1, 2_000_000), body.subarray(2_000_000)];
    const info = await store.commit("a/big.bin", ReadableStream.from(chunks), {
      kind: "artifact",
      contentType: "application/octet-stream",
    });
    assert.equal(info.sha256, await sha256Hex(body));
    const whole = await store.open("a/big.bin");
    assert.deepEqual(await readAll(whole.body), body);
    const part = await store.open("a/big.bin", { start: 1_000_000, end: 1_300_000 });
    assert.deepEqual(await readAll(part.body), body.subarray(1_000_000, 1_300_001));
    await assert.rejects(store.open("a/big.bin", { start: 0, end: body.byteLength }), RangeError);
    const cancelled = await store.open("a/big.bin");
    await cancelled.body.cancel();
  });
});

Deno.test("FileStore verify rejection leaves the directory empty", async () => {
  await withStore(async (store, root) => {
    const rejection = new Error("Checksum mismatch");
    let seen: { sha256: string; size: number; staged: boolean } | undefined;
    await assert.rejects(
      store.commit("p/x.zip", ReadableStream.from([enc.encode("abc")]), {
        kind: "artifact",
        contentType: "application/zip",
        verify: async (input) => {
          const staged = await Deno.stat(input.stagedPath).then(() => true, () => false);
          seen = { sha256: input.sha256, size: input.size, staged };
          throw rejection;
        },
      }),
      (error) => error === rejection,
    );
    assert.deepEqual(seen, {
      sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      size: 3,
      staged: true,
    });
    assert.equal(await store.stat("p/x.zip"), undefined);
    assert.deepEqual(await filesUnder(root), []);
  });
});

Deno.test("FileStore verify result is merged into the sidecar extra", async () => {
  await withStore(async (store) => {
    await store.commit("p/y.zip", ReadableStream.from([enc.encode("abc")]), {
      kind: "artifact",
      contentType: "application/zip",
      extra: { a: 1 },
      verify: () => Promise.resolve({ h1: "h1:xyz" }),
    });
    assert.deepEqual((await store.stat("p/y.zip"))?.extra, { a: 1, h1: "h1:xyz" });
  });
});

Deno.test("FileStore read error mid-stream commits nothing and removes the temp", async () => {
  await withStore(async (store, root) => {
    let sent = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 3) controller.enqueue(patternBytes(64 * 1024, sent));
        else controller.error(new Error("Connection reset"));
      },
    });
    await assert.rejects(
      store.commit("p/z.zip", failing, { kind: "artifact", contentType: "application/zip" }),
      /Connection reset/,
    );
    assert.equal(await store.stat("p/z.zip"), undefined);
    assert.deepEqual(await filesUnder(root), []);
  });
});

Deno.test("FileStore abort mid-stream commits nothing and cancels the source", async () => {
  await withStore(async (store, root) => {
    const controller = new AbortController();
    const { promise: cancelled, resolve: onCancel } = Promise.withResolvers<unknown>();
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent++ === 2) controller.abort(new Error("Stop"));
        if (sent <= 2) c.enqueue(patternBytes(1024, sent));
        else return new Promise(() => {}); // never produces more
      },
      cancel: (reason) => onCancel(reason),
    });
    await assert.rejects(
      store.commit("q/r.bin", endless, {
        kind: "artifact",
        contentType: "application/octet-stream",
        signal: controller.signal,
      }),
      /Stop/,
    );
    assert.match(String(await cancelled), /Stop/);
    assert.deepEqual(await filesUnder(root), []);
  });
});

Deno.test("FileStore stat reports absence for missing keys, directories and sidecar mismatches", async () => {
  await withStore(async (store, root) => {
    assert.equal(await store.stat("nope/missing.json"), undefined);
    await Deno.mkdir(`${root}/dir/inner`, { recursive: true });
    assert.equal(await store.stat("dir/inner"), undefined);
    // A path component is a file.
    await Deno.writeTextFile(`${root}/file`, "x");
    assert.equal(await store.stat("file/child"), undefined);
    // Object without a sidecar (e.g. a crash between the two renames) is not an object.
    await Deno.writeTextFile(`${root}/dir/orphan.json`, "{}");
    assert.equal(await store.stat("dir/orphan.json"), undefined);
    await assert.rejects(store.open("dir/orphan.json"), Deno.errors.NotFound);
    // A sidecar that describes other bytes does not vouch for this object.
    await store.commit("dir/swapped.json", ReadableStream.from([enc.encode("[1]")]), {
      kind: "metadata",
      contentType: "application/json",
    });
    await Deno.writeTextFile(`${root}/dir/swapped.json`, "[1, 2, 3]");
    assert.equal(await store.stat("dir/swapped.json"), undefined);
    await assert.rejects(store.open("dir/swapped.json"), Deno.errors.NotFound);
    // Unparseable sidecar.
    await Deno.writeTextFile(`${root}/dir/bad.json`, "{}");
    await Deno.writeTextFile(`${root}/dir/bad.json.metadata.json`, "not json");
    assert.equal(await store.stat("dir/bad.json"), undefined);
    await assert.rejects(store.open("nope/missing.json"), Deno.errors.NotFound);
  });
});

Deno.test("FileStore refuses invalid keys before touching the disk", async () => {
  await withStore(async (store, root) => {
    for (
      const key of [
        "../x",
        "/abs",
        "a/./b",
        "a//b",
        "a\\b",
        "x.lock",
        "a/.tmp-1",
        "y.metadata.json",
      ]
    ) {
      await assert.rejects(store.stat(key), InvalidKeyError, key);
      await assert.rejects(
        store.commit(key, ReadableStream.from([enc.encode("x")]), {
          kind: "artifact",
          contentType: "text/plain",
        }),
        InvalidKeyError,
      );
    }
    assert.deepEqual(await filesUnder(root), []);
  });
});

Deno.test("FileStore replacement keeps open readers on the old bytes", async () => {
  await withStore(async (store) => {
    const opts = { kind: "metadata" as const, contentType: "text/plain" };
    await store.commit("m/v.txt", ReadableStream.from([enc.encode("old")]), opts);
    const before = await store.open("m/v.txt");
    await store.commit("m/v.txt", ReadableStream.from([enc.encode("newer")]), opts);
    assert.equal(new TextDecoder().decode(await readAll(before.body)), "old");
    const after = await store.open("m/v.txt");
    assert.equal(new TextDecoder().decode(await readAll(after.body)), "newer");
    assert.equal((await store.stat("m/v.txt"))?.size, 5);
  });
});

Deno.test("FileStore list skips sidecars, locks, temps and orphans; delete keeps only the lock file", async () => {
  await withStore(async (store, root) => {
    const opts = { kind: "artifact" as const, contentType: "text/plain" };
    await store.commit("providers/a/1.zip", ReadableStream.from([enc.encode("1")]), opts);
    await store.commit("providers/b/2.zip", ReadableStream.from([enc.encode("22")]), opts);
    await store.commit("modules/m/3.tar.gz", ReadableStream.from([enc.encode("333")]), opts);
    await (await store.lock("providers/a/1.zip")).release();
    await Deno.writeTextFile(`${root}/providers/a/.tmp-deadbeef`, "partial");
    await Deno.writeTextFile(`${root}/providers/a/orphan.zip`, "no sidecar");
    const keys = async (prefix?: string) =>
      (await Array.fromAsync(store.list(prefix))).map((info: ObjectInfo) => info.key);
    assert.deepEqual(await keys(), [
      "modules/m/3.tar.gz",
      "providers/a/1.zip",
      "providers/b/2.zip",
    ]);
    assert.deepEqual(await keys("providers/"), ["providers/a/1.zip", "providers/b/2.zip"]);
    assert.deepEqual(await keys("providers/b"), ["providers/b/2.zip"]);
    assert.deepEqual(await keys("nothing/here/"), []);

    await store.delete("providers/a/1.zip");
    await store.delete("providers/a/1.zip");
    // The lock file stays so that processes holding or waiting on it never split onto two files.
    assert.deepEqual(await filesUnder(`${root}/providers/a`), [
      ".tmp-deadbeef",
      "1.zip.lock",
      "orphan.zip",
    ]);
  });
});

Deno.test("FileStore sweep removes only old staging files", async () => {
  let now = Date.now();
  await withStore(async (store, root) => {
    await Deno.mkdir(`${root}/a/b`, { recursive: true });
    await Deno.writeTextFile(`${root}/a/b/.tmp-1`, "x");
    await Deno.writeTextFile(`${root}/a/.tmp-2`, "y");
    await Deno.writeTextFile(`${root}/a/keep.txt`, "z");
    assert.equal(await store.sweep(), 0);
    now += 16 * 60 * 1000;
    assert.equal(await store.sweep(), 2);
    assert.deepEqual(await filesUnder(root), ["a/keep.txt"]);
  }, { now: () => now });
});

Deno.test("FileStore lock is exclusive within a process and abortable", async () => {
  await withStore(async (store, root) => {
    const first = await store.lock("k/obj");
    const order: string[] = [];
    const second = store.lock("k/obj").then((held) => {
      order.push("second");
      return held;
    });
    const controller = new AbortController();
    const third = store.lock("k/obj", controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(order.length, 0);
    controller.abort(new Error("Gave up"));
    await assert.rejects(third, /Gave up/);
    order.push("release");
    await first.release();
    await first.release(); // idempotent
    const held = await second;
    assert.deepEqual(order, ["release", "second"]);
    // A separate file handle in this process sees the OS lock as taken.
    using probe = await Deno.open(`${root}/k/obj.lock`, { read: true, write: true });
    assert.equal(await probe.tryLock(true), false);
    await held[Symbol.asyncDispose]();
    assert.equal(await probe.tryLock(true), true);
    await probe.unlock();
  });
});

Deno.test("file store: annotate merges fields only while the object has the expected sha256", async () => {
  const root = await Deno.makeTempDir({ prefix: "tfcache-annotate-" });
  try {
    const store = new FileStore(root);
    const bytes = new TextEncoder().encode("one");
    const info = await store.commit("a/x.bin", ReadableStream.from([bytes]), {
      kind: "artifact",
      contentType: "application/octet-stream",
      extra: { kept: 1 },
    });
    assert.equal(await store.annotate("a/x.bin", "0".repeat(64), { h1: "h1:wrong" }), false);
    assert.equal(await store.annotate("a/missing.bin", info.sha256, { h1: "h1:x" }), false);
    assert.equal(await store.annotate("a/x.bin", info.sha256, { h1: "h1:right" }), true);
    const after = await store.stat("a/x.bin");
    assert.deepEqual(after?.extra, { kept: 1, h1: "h1:right" });
    assert.equal(after?.fetchedAt.getTime(), info.fetchedAt.getTime());
    assert.equal(store.localPath("a/x.bin"), `${root}/a/x.bin`);
    const leftovers = (await Array.fromAsync(Deno.readDir(`${root}/a`)))
      .map((e) => e.name).filter((n) => n.startsWith(".tmp-"));
    assert.deepEqual(leftovers, []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("file store: onStaged exposes the growing staging file, then the commit", async () => {
  const root = await Deno.makeTempDir({ prefix: "tfcache-staged-" });
  try {
    const store = new FileStore(root);
    const first = new Uint8Array(300 * 1024).fill(1);
    const second = new Uint8Array(10).fill(2);
    const gate = Promise.withResolvers<void>();
    const source = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(first);
        await gate.promise;
        controller.enqueue(second);
        controller.close();
      },
    });
    const stagedSeen = Promise.withResolvers<StagedObject>();
    const committing = store.commit("s/y.bin", source, {
      kind: "artifact",
      contentType: "application/octet-stream",
      expectedSize: first.byteLength + second.byteLength,
      onStaged: (staged) => stagedSeen.resolve(staged),
    });
    const staged = await stagedSeen.promise;
    await staged.waitFor(0);
    assert.ok(staged.staged > 0 && staged.staged <= first.byteLength, `${staged.staged}`);
    assert.equal(staged.complete, false);
    const reader = await staged.openReader();
    const buffer = new Uint8Array(staged.staged);
    assert.equal(await reader.read(buffer), staged.staged);
    assert.ok(buffer.every((b) => b === 1));
    gate.resolve();
    const info = await committing;
    assert.equal((await staged.committed).sha256, info.sha256);
    assert.equal(staged.complete, true);
    // The reader keeps its descriptor across the rename; new readers serve the object instead.
    const rest = new Uint8Array(info.size - buffer.byteLength);
    let got = 0;
    while (got < rest.byteLength) got += (await reader.read(rest.subarray(got))) ?? 0;
    assert.ok(rest.subarray(rest.byteLength - 10).every((b) => b === 2));
    reader.close();
    await assert.rejects(staged.openReader(), Deno.errors.NotFound);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("file store: a size other than the announced one is refused, nothing stored", async () => {
  const root = await Deno.makeTempDir({ prefix: "tfcache-size-" });
  try {
    const store = new FileStore(root);
    let staged: StagedObject | undefined;
    await assert.rejects(
      store.commit("z/short.bin", ReadableStream.from([new Uint8Array(5)]), {
        kind: "artifact",
        contentType: "application/octet-stream",
        expectedSize: 6,
        onStaged: (s) => staged = s,
      }),
      SizeMismatchError,
    );
    await assert.rejects(staged!.committed, SizeMismatchError);
    assert.equal(await store.stat("z/short.bin"), undefined);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${root}/z`)), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("file store: encodeColons stores `:` and `%` keys under encoded names, keys unchanged", async () => {
  let now = Date.now();
  await withStore(async (store, root) => {
    assert.equal(store.encodeColons, true);
    const opts = { kind: "metadata" as const, contentType: "application/json" };
    const colon = "providers/127.0.0.1:8443/acme/thing/index.json";
    const percent = "modules/127.0.0.1:8443/acme/net/100%25off/versions";
    const discovery = "discovery/127.0.0.1:8443.json";
    for (const [key, text] of [[colon, "c"], [percent, "pp"], [discovery, "ddd"]] as const) {
      const info = await store.commit(key, ReadableStream.from([enc.encode(text)]), opts);
      assert.equal(info.key, key);
    }
    await (await store.lock(colon)).release();
    const onDisk = await filesUnder(root);
    assert.ok(onDisk.every((path) => !path.includes(":")), onDisk.join(", "));
    assert.deepEqual(onDisk, [
      "discovery/127.0.0.1%3A8443.json",
      "discovery/127.0.0.1%3A8443.json.metadata.json",
      "modules/127.0.0.1%3A8443/acme/net/100%2525off/versions",
      "modules/127.0.0.1%3A8443/acme/net/100%2525off/versions.metadata.json",
      "providers/127.0.0.1%3A8443/acme/thing/index.json",
      "providers/127.0.0.1%3A8443/acme/thing/index.json.lock",
      "providers/127.0.0.1%3A8443/acme/thing/index.json.metadata.json",
    ]);
    assert.equal(
      store.objectPath(colon),
      `${root}/providers/127.0.0.1%3A8443/acme/thing/index.json`,
    );
    assert.equal(store.localPath(colon), store.objectPath(colon));

    assert.equal((await store.stat(percent))?.size, 2);
    const opened = await store.open(colon);
    assert.equal(opened.info.key, colon);
    assert.deepEqual(await readAll(opened.body), enc.encode("c"));
    assert.equal(
      await store.annotate(discovery, (await store.stat(discovery))!.sha256, { a: 1 }),
      true,
    );
    assert.deepEqual((await store.stat(discovery))?.extra, { a: 1 });

    const keys = async (prefix?: string) =>
      (await Array.fromAsync(store.list(prefix))).map((info: ObjectInfo) => info.key);
    assert.deepEqual(await keys(), [discovery, percent, colon]);
    assert.deepEqual(await keys("providers/127.0.0.1:8443/"), [colon]);
    assert.deepEqual(await keys("modules/127.0.0.1:8443/acme/net/100%25"), [percent]);
    assert.deepEqual(await keys("discovery/127.0.0.1:"), [discovery]);

    // Names that are not the encoding of any key are not listed.
    await Deno.writeTextFile(`${root}/discovery/50%off.json`, "{}");
    await Deno.writeTextFile(`${root}/discovery/50%off.json.metadata.json`, "{}");
    assert.deepEqual(await keys("discovery/"), [discovery]);

    await Deno.writeTextFile(`${root}/providers/127.0.0.1%3A8443/acme/thing/.tmp-1`, "x");
    now += 16 * 60 * 1000;
    assert.equal(await store.sweep(), 1);

    await store.delete(colon);
    await store.delete(percent);
    assert.equal(await store.stat(colon), undefined);
    assert.deepEqual(await keys(), [discovery]);
    assert.deepEqual(await filesUnder(`${root}/providers`), [
      "127.0.0.1%3A8443/acme/thing/index.json.lock",
    ]);
  }, { encodeColons: true, now: () => now });
});

Deno.test("file store: encoded listings stay in key order", async () => {
  await withStore(async (store) => {
    const opts = { kind: "metadata" as const, contentType: "text/plain" };
    // `0` sorts before `:` in keys, but `%3A` sorts before `0` on disk.
    for (const key of ["d/h:1", "d/h0", "d/h%"]) {
      await store.commit(key, ReadableStream.from([enc.encode(key)]), opts);
    }
    const listed = (await Array.fromAsync(store.list("d/"))).map((info) => info.key);
    assert.deepEqual(listed, ["d/h%", "d/h0", "d/h:1"]);
  }, { encodeColons: true });
});

Deno.test({
  name: "file store: by default (outside Windows) keys with `:` are stored verbatim",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withStore(async (store, root) => {
      assert.equal(store.encodeColons, false);
      const key = "providers/127.0.0.1:8443/acme/thing/index.json";
      await store.commit(key, ReadableStream.from([enc.encode("{}")]), {
        kind: "metadata",
        contentType: "application/json",
      });
      assert.ok((await Deno.stat(`${root}/providers/127.0.0.1:8443/acme/thing/index.json`)).isFile);
      assert.deepEqual(await filesUnder(root), [
        "providers/127.0.0.1:8443/acme/thing/index.json",
        "providers/127.0.0.1:8443/acme/thing/index.json.metadata.json",
      ]);
      assert.deepEqual((await Array.fromAsync(store.list())).map((info) => info.key), [key]);
    });
  },
});

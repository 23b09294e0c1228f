/**
 * `tfcache cache stats|list|prune|delete|verify` on a real cache directory built with
 * `FileStore.commit` (see `_support/cache_fixture.ts`).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runCache } from "../../src/cli/cache.ts";
import { UsageError } from "../../src/cli/cli_error.ts";
import { FileStore } from "../../src/proxy/file_store.ts";
import {
  capture,
  commitObject,
  DAY,
  GIT_STATE,
  keysIn,
  makeFixture,
  NEW_ZIP,
  NOW,
  OBJECTS,
  OLD_ZIP,
  P,
  SOURCE,
} from "./_support/cache_fixture.ts";
import { exists } from "./_support/alpha_beta.ts";
import { runCli } from "./_support/run_cli.ts";

const ALL_KEYS = OBJECTS.map((o) => o.key).sort();

Deno.test("cache stats counts objects per group, git clones and unpacked providers", async () => {
  await using fx = await makeFixture();
  const c = capture();
  assert.equal(await runCache(["stats", "--json", "--cache-dir", fx.root], c.io), 0);
  const stats = JSON.parse(c.out.join("\n"));
  assert.equal(stats.root, fx.root);
  assert.equal(stats.objects, 9);
  assert.equal(stats.bytes, 6750);
  assert.equal(stats.artifacts, 3);
  assert.equal(stats.oldest_fetched_at, new Date(NOW - 30 * DAY).toISOString());
  assert.equal(stats.newest_fetched_at, new Date(NOW - 60 * 60 * 1000).toISOString());
  assert.deepEqual(Object.keys(stats.groups), [
    "providers",
    "registry",
    "modules",
    "module-sources",
    "discovery",
    "git",
  ]);
  assert.deepEqual(
    [stats.groups.providers.objects, stats.groups.providers.bytes],
    [4, 100 + 200 + 3000 + 2000],
  );
  assert.equal(stats.groups["module-sources"].bytes, 1000);
  assert.equal(stats.groups.modules.objects, 1);
  assert.deepEqual(stats.git_mirrors, { clones: 1, bytes: fx.cloneBytes });
  assert.deepEqual(stats.unpacked_providers, { packages: 1, bytes: fx.unpackedBytes });

  const human = capture();
  assert.equal(await runCache(["stats", "--cache-dir", fx.root], human.io), 0);
  const text = human.out.join("\n");
  assert.match(text, /providers \(network mirror\)\s+4\s+5\.30 kB/);
  assert.match(text, /total\s+9\s+6\.75 kB/);
  assert.match(text, /git mirror clones\s+1\s+926 B/);
  assert.match(text, /unpacked providers\s+1\s+500 B/);
  assert.match(text, /oldest fetch: 2026-05-11T12:00:00Z/);
});

Deno.test("cache list prints kind, size, fetch time and key, and honours the prefix", async () => {
  await using fx = await makeFixture();
  const c = capture();
  assert.equal(await runCache(["list", "--cache-dir", fx.root], c.io), 0);
  assert.equal(c.out.length, 9);
  assert.deepEqual(c.out.map((line) => line.split(/\s+/).at(-1)), ALL_KEYS);
  assert.ok(
    c.out.includes(`artifact   3.00 kB  2026-05-11T12:00:00Z  ${OLD_ZIP}`),
    c.out.join("\n"),
  );
  assert.deepEqual(c.err, ["9 objects, 6.75 kB"]);

  const some = capture();
  assert.equal(await runCache(["list", `${P}/`, "--json", "--cache-dir", fx.root], some.io), 0);
  const listed = JSON.parse(some.out.join("\n"));
  assert.deepEqual(listed.objects.map((o: { key: string }) => o.key), [
    `${P}/5.1.0.json`,
    `${P}/index.json`,
    OLD_ZIP,
    NEW_ZIP,
  ]);
  assert.deepEqual(
    Object.keys(listed.objects[0]).sort(),
    ["content_type", "fetched_at", "group", "key", "kind", "sha256", "size"],
  );

  await assert.rejects(
    runCache(["list", "../etc", "--cache-dir", fx.root], capture().io),
    UsageError,
  );
});

Deno.test("cache prune by age keeps artifacts unless --include-artifacts", async () => {
  await using fx = await makeFixture();
  const c = capture();
  assert.equal(await runCache(["prune", "--cache-dir", fx.root], c.io), 0);
  // Default 7d: the 10d index, the 8d registry answer and the 10d git state go; artifacts stay.
  assert.deepEqual(
    await keysIn(fx.root),
    ALL_KEYS.filter((k) =>
      ![`${P}/index.json`, "registry/registry.terraform.io/hashicorp/aws/versions.json", GIT_STATE]
        .includes(k)
    ),
  );
  assert.ok(await exists(join(fx.root, "git-mirrors/github.com/org/repo.git/HEAD")));
  assert.match(c.out.at(-1) ?? "", /^removed 3 objects older than 7d, freed 460 B; swept 0/);

  const all = capture();
  assert.equal(
    await runCache(
      ["prune", "--include-artifacts", "--older-than", "5d", "--cache-dir", fx.root],
      all.io,
    ),
    0,
  );
  // 5d with artifacts: the 30d zip, the 20d source and the 10d clone go; 2d zip stays.
  const left = await keysIn(fx.root);
  assert.ok(!left.includes(OLD_ZIP) && !left.includes(SOURCE));
  assert.ok(left.includes(NEW_ZIP));
  assert.ok(!(await exists(join(fx.root, "git-mirrors/github.com/org/repo.git"))));
  assert.ok(
    all.out.some((l) =>
      l.includes("git-clone") && l.endsWith("git-mirrors/github.com/org/repo.git")
    ),
  );
  assert.match(all.out.at(-1) ?? "", /^removed 2 objects and 1 git mirror clone older than 5d/);
  // Unpacked providers and TLS files are never touched.
  assert.ok(await exists(join(fx.root, "unpacked/registry.terraform.io/hashicorp/aws/5.1.0")));
  assert.ok(await exists(join(fx.root, "tls/proxy.pem")));
});

Deno.test("cache prune --dry-run prints what it would remove and removes nothing", async () => {
  await using fx = await makeFixture();
  const c = capture();
  const args = [
    "prune",
    "--dry-run",
    "--include-artifacts",
    "--max-size",
    "1kB",
    "--cache-dir",
    fx.root,
  ];
  assert.equal(await runCache(args, c.io), 0);
  assert.deepEqual(await keysIn(fx.root), ALL_KEYS);
  assert.ok(await exists(join(fx.root, "git-mirrors/github.com/org/repo.git/HEAD")));
  assert.ok(c.out.length > 3);
  assert.ok(c.out.slice(0, -1).every((l) => l.startsWith("would remove")), c.out.join("\n"));
  assert.match(
    c.out.at(-1) ?? "",
    /^would remove 6 objects and 1 git mirror clone older than 7d or over 1\.00 kB, freeing 7\.39 kB$/,
  );
});

Deno.test("cache prune --max-size evicts the least recently fetched artifacts first", async () => {
  await using fx = await makeFixture();
  const c = capture();
  // Nothing is old enough for --older-than; 6750 bytes must shrink to 4000: the 30-day zip
  // (3000) goes, which is enough, so the 20-day source and the 2-day zip stay.
  const args = ["prune", "--older-than", "100d", "--max-size", "4kB", "--cache-dir", fx.root];
  assert.equal(await runCache(args, c.io), 0);
  assert.deepEqual(await keysIn(fx.root), ALL_KEYS.filter((k) => k !== OLD_ZIP));
  assert.match(
    c.out[0] ?? "",
    new RegExp(`removed  artifact .* ${OLD_ZIP} \\(over --max-size\\)$`),
  );

  const more = capture();
  const tighter = ["prune", "--older-than", "100d", "--max-size", "1500", "--cache-dir", fx.root];
  assert.equal(await runCache(tighter, more.io), 0);
  // 3750 left: the 20-day source goes before the 2-day zip; metadata (750) is never evicted.
  assert.deepEqual(
    await keysIn(fx.root),
    ALL_KEYS.filter((k) => ![OLD_ZIP, SOURCE, NEW_ZIP].includes(k)),
  );
  assert.deepEqual(more.out.slice(0, 2).map((l) => l.split(/\s+/).at(-3)), [SOURCE, NEW_ZIP]);
});

Deno.test("cache prune waits for a held store lock before deleting", async () => {
  await using fx = await makeFixture();
  const holder = new FileStore(fx.root);
  const key = `${P}/index.json`;
  const held = await holder.lock(key);
  let settled = false;
  const pruning = runCache(["prune", "--cache-dir", fx.root], capture().io).finally(() => {
    settled = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(settled, false);
  assert.ok(await holder.stat(key), "prune deleted an object whose lock was held");
  await held.release();
  assert.equal(await pruning, 0);
  assert.equal(await holder.stat(key), undefined);
});

Deno.test("cache prune keeps an object that a fill refreshed while it waited", async () => {
  await using fx = await makeFixture();
  const holder = new FileStore(fx.root);
  const key = `${P}/index.json`;
  const held = await holder.lock(key);
  const c = capture();
  const pruning = runCache(["prune", "--cache-dir", fx.root], c.io);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await commitObject(fx.root, { key, kind: "metadata", size: 120, ageMs: 0 });
  await held.release();
  assert.equal(await pruning, 0);
  assert.equal((await holder.stat(key))?.size, 120);
  assert.ok(c.err.includes(`kept ${key}: refreshed while pruning`), c.err.join("\n"));
});

Deno.test("cache delete removes keys, refuses traversal and needs --yes for a prefix", async () => {
  await using fx = await makeFixture();
  for (const bad of ["../outside", `${P}/../../x`, "/etc/passwd", `${fx.root}/${OLD_ZIP}`, "."]) {
    await assert.rejects(
      runCache(["delete", bad, "--yes", "--cache-dir", fx.root], capture().io),
      UsageError,
      bad,
    );
  }
  await assert.rejects(
    runCache(["delete", `${fx.root}/${OLD_ZIP}`, "--cache-dir", fx.root], capture().io),
    new RegExp(`did you mean "${OLD_ZIP.replaceAll(".", "\\.")}"`),
  );
  await assert.rejects(
    runCache(["delete", NEW_ZIP, P, "--cache-dir", fx.root], capture().io),
    /is a prefix \(4 objects, 5\.30 kB in all\); pass --yes/,
  );
  assert.deepEqual(
    await keysIn(fx.root),
    ALL_KEYS,
    "nothing is deleted when one argument is refused",
  );

  const one = capture();
  assert.equal(await runCache(["delete", SOURCE, "--cache-dir", fx.root], one.io), 0);
  assert.deepEqual(one.out, [`deleted   1.00 kB  ${SOURCE}`, "deleted 1 object, freed 1.00 kB"]);
  assert.ok(!(await exists(join(fx.root, `${SOURCE}.metadata.json`))));

  const prefix = capture();
  assert.equal(await runCache(["delete", `${P}/`, "-y", "--cache-dir", fx.root], prefix.io), 0);
  assert.ok((await keysIn(fx.root)).every((k) => !k.startsWith(P)));

  const git = capture();
  assert.equal(await runCache(["delete", GIT_STATE, "--cache-dir", fx.root], git.io), 0);
  assert.ok(!(await exists(join(fx.root, "git-mirrors/github.com/org/repo.git"))));

  const missing = capture();
  assert.equal(await runCache(["delete", SOURCE, "--cache-dir", fx.root], missing.io), 1);
  assert.match(missing.err[0] ?? "", /not in the cache/);

  // Directories without store objects (the unpacked cache, TLS files) are not deletable prefixes.
  const unpacked = capture();
  assert.equal(
    await runCache(["delete", "unpacked", "tls/", "--cache-dir", fx.root], unpacked.io),
    1,
  );
  assert.equal(unpacked.err.length, 2);
  assert.ok(await exists(join(fx.root, "tls/proxy.pem")));
});

Deno.test("cache verify finds an object overwritten in place and --fix deletes it", async () => {
  await using fx = await makeFixture();
  const clean = capture();
  assert.equal(await runCache(["verify", "--cache-dir", fx.root], clean.io), 0);
  assert.match(clean.out.at(-1) ?? "", /^verified 9 objects \(6\.75 kB\): all intact$/);

  // Bit rot: same length, same mtime (restored), different bytes: the store still serves it.
  const path = join(fx.root, OLD_ZIP);
  const before = await Deno.stat(path);
  const file = await Deno.open(path, { write: true });
  await file.write(new TextEncoder().encode("CORRUPT"));
  file.close();
  await Deno.utime(path, before.atime ?? new Date(), before.mtime ?? new Date());
  const found = capture();
  assert.equal(await runCache(["verify", "providers/", "--cache-dir", fx.root], found.io), 1);
  assert.match(found.out[0] ?? "", new RegExp(`^hash-mismatch  ${OLD_ZIP}: bytes have SHA-256`));
  assert.match(found.out.at(-1) ?? "", /^verified 4 objects .*: 1 damaged; run with --fix/);
  assert.ok(await exists(path), "verify without --fix deletes nothing");

  const fixed = capture();
  assert.equal(await runCache(["verify", "--fix", "--cache-dir", fx.root], fixed.io), 1);
  assert.match(fixed.out[0] ?? "", /\(deleted\)$/);
  assert.ok(!(await exists(path)));
  assert.equal(await runCache(["verify", "--cache-dir", fx.root], capture().io), 0);
});

Deno.test("cache verify reports a file changed after commit (the store no longer serves it)", async () => {
  await using fx = await makeFixture();
  const path = join(fx.root, NEW_ZIP);
  await Deno.writeFile(path, new TextEncoder().encode("something else entirely"));
  await Deno.utime(path, new Date(NOW), new Date(NOW));
  await Deno.remove(join(fx.root, `${SOURCE}`));
  const c = capture();
  assert.equal(await runCache(["verify", "--fix", "--cache-dir", fx.root], c.io), 1);
  assert.deepEqual(c.out.slice(0, 2).map((l) => l.split(/\s+/).slice(0, 2)), [
    ["orphaned", `${SOURCE}:`],
    ["modified", `${NEW_ZIP}:`],
  ]);
  assert.ok(!(await exists(path)) && !(await exists(join(fx.root, `${NEW_ZIP}.metadata.json`))));
});

Deno.test("cache rejects unknown sub-commands, flags and bad values with usage errors", async () => {
  await using fx = await makeFixture();
  const bad: string[][] = [
    [],
    ["purge"],
    ["prune", "--older-than", "7 days"],
    ["prune", "--max-size", "lots"],
    ["stats", "extra"],
    ["list", "--frobnicate"],
    ["delete"],
  ];
  for (const args of bad) {
    await assert.rejects(
      runCache([...args, "--cache-dir", fx.root], capture().io),
      UsageError,
      args.join(" "),
    );
  }
  await assert.rejects(
    runCache(["stats", "--cache-dir", join(fx.root, "nope")], capture().io),
    /Cannot open cache directory .*nope.*: it does not exist/,
  );
});

Deno.test("tfcache cache as a process: stats --json, and exit 2 for a traversal key", async () => {
  await using fx = await makeFixture();
  const stats = await runCli(["cache", "stats", "--json"], { env: { TFCACHE_CACHE_DIR: fx.root } });
  assert.equal(stats.code, 0, stats.stderr);
  assert.equal(JSON.parse(stats.stdout).objects, 9);
  const refused = await runCli(["cache", "delete", "../x", "--cache-dir", fx.root], { env: {} });
  assert.equal(refused.code, 2);
  assert.match(
    refused.stderr,
    /error: Cannot use cache key "\.\.\/x".*\nRun "tfcache cache --help"/s,
  );
});

Deno.test("cache prune sweeps old staging files and interrupted git clones, not fresh ones", async () => {
  await using fx = await makeFixture();
  const at = async (path: string, ms: number, dir = false) => {
    if (dir) await Deno.mkdir(path, { recursive: true });
    else await Deno.writeTextFile(path, "partial");
    await Deno.utime(path, ms / 1000, ms / 1000);
  };
  await at(join(fx.root, P, ".tmp-crashed"), NOW - DAY);
  await at(join(fx.root, P, ".tmp-live"), NOW - 60_000);
  const stale = join(fx.root, "git-mirrors/github.com/org/other.git.tmp-1234");
  await at(stale, NOW - 2 * DAY, true);
  const c = capture();
  assert.equal(await runCache(["prune", "--dry-run", "--cache-dir", fx.root], c.io), 0);
  assert.ok(await exists(join(fx.root, P, ".tmp-crashed")) && await exists(stale));
  assert.equal(await runCache(["prune", "--cache-dir", fx.root], c.io), 0);
  assert.ok(!(await exists(join(fx.root, P, ".tmp-crashed"))));
  assert.ok(await exists(join(fx.root, P, ".tmp-live")));
  assert.ok(!(await exists(stale)));
  assert.ok(c.out.some((l) => l.endsWith("other.git.tmp-1234 (leftover of an interrupted clone)")));
  assert.match(c.out.at(-1) ?? "", /swept 1 staging leftover$/);
});

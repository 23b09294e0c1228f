/**
 * The `tfcache cache` operations on a store that encodes its on-disk names
 * (`FileStore.encodeColons`, the default on Windows): keys keep their `host:port`, the walks of
 * the cache directory map `host%3Aport` names back to them, and git clones are found by key.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { CacheContext } from "../../src/cli/cache_inventory.ts";
import { listGitClones, listObjects } from "../../src/cli/cache_inventory.ts";
import { executeDelete, planDelete } from "../../src/cli/cache_delete.ts";
import { collectStats } from "../../src/cli/cache_stats.ts";
import { verifyCache } from "../../src/cli/cache_verify.ts";
import { FileStore } from "../../src/proxy/file_store.ts";
import { exists } from "./_support/alpha_beta.ts";
import { bytesFor } from "./_support/cache_fixture.ts";

const HOST = "127.0.0.1:8443";
const ZIP = `providers/${HOST}/acme/thing/terraform-provider-thing_1.0.0_linux_amd64.zip`;
const INDEX = `providers/${HOST}/acme/thing/index.json`;
const DISCOVERY = `discovery/${HOST}.json`;
const GIT_STATE = `git/${HOST}/org/repo.json`;

async function encodedCache(): Promise<CacheContext & AsyncDisposable> {
  const root = await Deno.makeTempDir({ prefix: "tfcache-cache-encoded-" });
  const store = new FileStore(root, { encodeColons: true });
  for (const [key, size] of [[ZIP, 300], [INDEX, 20], [DISCOVERY, 10], [GIT_STATE, 5]] as const) {
    await store.commit(key, ReadableStream.from([bytesFor(key, size)]), {
      kind: key === ZIP ? "artifact" : "metadata",
      contentType: "application/octet-stream",
    });
  }
  const clone = join(root, "git-mirrors", "127.0.0.1%3A8443", "org", "repo.git");
  await Deno.mkdir(clone, { recursive: true });
  await Deno.writeTextFile(join(clone, "HEAD"), "ref: refs/heads/main\n");
  return {
    root,
    store,
    encodeColons: true,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

Deno.test("cache commands on an encoded store: list, stats, verify and delete see host:port keys", async () => {
  await using cache = await encodedCache();
  const keys = async (prefix?: string) =>
    (await Array.fromAsync(listObjects(cache, prefix))).map((info) => info.key);
  assert.deepEqual(await keys(), [DISCOVERY, GIT_STATE, INDEX, ZIP]);
  assert.deepEqual(await keys("discovery"), [DISCOVERY]);

  const clones = await Array.fromAsync(listGitClones(cache.root, true));
  assert.deepEqual(clones.map((c) => [c.stateKey, c.relativePath]), [
    [GIT_STATE, "git-mirrors/127.0.0.1%3A8443/org/repo.git"],
  ]);
  const stats = await collectStats(cache);
  assert.equal(stats.total.count, 4);
  assert.equal(stats.gitMirrors.clones, 1);

  // Bit rot in the zip: verify reports it by key and --fix deletes the encoded file.
  const zipPath = new FileStore(cache.root, { encodeColons: true }).objectPath(ZIP);
  assert.ok(!zipPath.includes(":8443"), zipPath);
  const before = await Deno.stat(zipPath);
  const file = await Deno.open(zipPath, { write: true });
  await file.write(new TextEncoder().encode("CORRUPT"));
  file.close();
  await Deno.utime(zipPath, before.atime ?? new Date(), before.mtime ?? new Date());
  const verified = await verifyCache(cache, { fix: true });
  assert.equal(verified.checked, 4);
  assert.deepEqual(verified.problems.map((p) => [p.key, p.problem, p.fixed]), [
    [ZIP, "hash-mismatch", true],
  ]);
  assert.ok(!(await exists(zipPath)));

  // A prefix with the port is found on disk; a git state key takes its encoded clone along.
  const plan = await planDelete(cache, [`providers/${HOST}/`, GIT_STATE], true);
  assert.deepEqual(plan.prefixes, [`providers/${HOST}/`]);
  assert.deepEqual(plan.objects.map((o) => o.key), [INDEX, GIT_STATE]);
  const deleted = await executeDelete(cache, plan);
  assert.deepEqual(deleted.map((d) => d.key), [INDEX, GIT_STATE]);
  assert.ok(
    !(await exists(join(cache.root, "git-mirrors", "127.0.0.1%3A8443", "org", "repo.git"))),
  );
  assert.deepEqual(await keys(), [DISCOVERY]);
});

import { join } from "node:path";
import assert from "node:assert/strict";
import { assertRejects } from "./_support/assert.ts";
import { makeRepo, serveGit } from "./_support/git_repos.ts";
import { packModuleSource } from "../../src/mirrors/module_source.ts";
import { ModuleFetchError } from "../../src/mirrors/module_source_errors.ts";
import { extractTar } from "../../src/mirrors/tarball.ts";

const noFetch = () => Promise.reject(new Error("no HTTP expected"));

async function unpack(path: string, dest: string): Promise<void> {
  await Deno.mkdir(dest);
  const file = await Deno.open(path);
  await extractTar(file.readable.pipeThrough(new DecompressionStream("gzip")), dest);
}

async function sha(path: string): Promise<string> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(path))).toHex();
}

Deno.test("git sources: refs (tag, branch, full and short SHA, default) over file:// and smart HTTP", async () => {
  const root = await Deno.makeTempDir();
  await using server = serveGit(root);
  try {
    const repo = await makeRepo(root);
    const work = join(root, "work");
    await Deno.mkdir(work);
    const cases: [string, string][] = [
      ["?ref=v1.0.0", "v1"],
      ["?ref=feature", "feature"],
      ["", "v2"],
      [`?ref=${repo.v1}`, "v1"],
      [`?ref=${repo.feature.slice(0, 10)}`, "feature"],
      ["?ref=main&depth=1", "v2"],
    ];
    for (const base of [`git::file://${repo.bare}`, `git::${server.url}repo.git`]) {
      const hashes = new Map<string, string>();
      for (const [query, expected] of cases) {
        await using packed = await packModuleSource(`${base}${query}`, {
          fetch: noFetch,
          allowFileRemotes: true,
          tempDir: work,
        });
        const out = join(root, `out-${crypto.randomUUID()}`);
        await unpack(packed.path, out);
        const main = await Deno.readTextFile(join(out, "main.tf"));
        assert.ok(main.includes(`"${expected}"`), `${base}${query}: ${main}`);
        assert.ok(
          !(await Deno.stat(join(out, ".git")).then(() => true, () => false)),
          ".git shipped",
        );
        assert.deepEqual(
          await Deno.readTextFile(join(out, "modules/child/main.tf")),
          'output "child" { value = "child-v1" }\n',
        );
        hashes.set(query, await sha(packed.path));
      }
      // Same tree → same bytes, whatever the ref spelling.
      assert.deepEqual(hashes.get("?ref=v1.0.0"), hashes.get(`?ref=${repo.v1}`));
      assert.deepEqual(hashes.get(""), hashes.get("?ref=main&depth=1"));
    }
    assert.ok(server.requests.some((r) => r.startsWith("POST /repo.git/git-upload-pack")));
    // Nothing left in the temp area.
    assert.deepEqual(await Array.fromAsync(Deno.readDir(work)), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("git sources: an unknown ref or remote fails with git's message and leaves nothing", async () => {
  const root = await Deno.makeTempDir();
  try {
    const repo = await makeRepo(root);
    const work = join(root, "work");
    await Deno.mkdir(work);
    await assertRejects(
      () =>
        packModuleSource(`git::file://${repo.bare}?ref=nope`, {
          fetch: noFetch,
          allowFileRemotes: true,
          tempDir: work,
        }),
      ModuleFetchError,
      "nope",
    );
    await assertRejects(
      () =>
        packModuleSource(`git::file://${root}/missing.git`, {
          fetch: noFetch,
          allowFileRemotes: true,
          tempDir: work,
        }),
      ModuleFetchError,
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(work)), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

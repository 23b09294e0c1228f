import assert from "node:assert/strict";
import { join } from "node:path";
import { packageHashV1FromDir } from "../../src/registry/hashes.ts";
import { localPlatform } from "../support/terraform.ts";
import { startFakeRegistry } from "../support/fake_registry.ts";
import { tempDir } from "./_support/fixtures.ts";
import { COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED } from "../support/os_guards.ts";

const WORKER = join(import.meta.dirname!, "_support", "install_worker.ts");
const REPO = join(import.meta.dirname!, "..", "..");
const PROCESSES = 8;

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name:
    "8 processes install the same providers through one global cache: each package fetched once, never seen partial",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
  // The child processes and the registry are awaited/closed inside the test.
  fn: async () => {
    const platform = localPlatform();
    const types = ["alpha", "beta"];
    await using registry = await startFakeRegistry({
      providers: types.map((type) => ({
        namespace: "tfcache",
        type,
        versions: ["1.0.0"],
        platforms: [platform],
        sizeBytes: 3 * 1024 * 1024,
      })),
    });
    await using tmp = await tempDir();
    const caFile = join(tmp.path, "ca.pem");
    await Deno.writeTextFile(caFile, registry.caCertPem);
    const global = join(tmp.path, "global");
    const sources = types.map((t) => `${registry.host}/tfcache/${t}`);
    const expected = new Map(types.map((t) => {
      const h = registry.expectedHashes(`tfcache/${t}`, "1.0.0");
      return [t, { h1: h.h1[platform]!, zh: h.zh[platform]! }];
    }));
    const packageDirs = types.map((t) =>
      join(global, registry.host, "tfcache", t, "1.0.0", platform)
    );

    // A concurrent reader: every package directory it ever sees must hash to the expected h1.
    let stop = false;
    let observations = 0;
    const badObservations: string[] = [];
    const reader = (async () => {
      while (!stop) {
        for (const [i, dir] of packageDirs.entries()) {
          let h1: string | undefined;
          try {
            h1 = await packageHashV1FromDir(dir);
          } catch {
            continue; // not there yet
          }
          observations++;
          if (h1 !== expected.get(types[i]!)!.h1) badObservations.push(`${dir}: ${h1}`);
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();

    const children = Array.from({ length: PROCESSES }, (_, i) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          "--quiet",
          "--no-lock",
          WORKER,
          caFile,
          global,
          join(tmp.path, `work${i}`),
          ...sources,
        ],
        cwd: REPO,
        stdout: "piped",
        stderr: "piped",
      }).output());
    const outputs = await Promise.all(children);
    stop = true;
    await reader;

    const decoder = new TextDecoder();
    for (const [i, out] of outputs.entries()) {
      assert.equal(out.code, 0, `process ${i} failed: ${decoder.decode(out.stderr)}`);
      const locks = JSON.parse(decoder.decode(out.stdout)) as {
        version: string;
        hashes: string[];
      }[];
      assert.deepEqual(
        locks,
        types.map((t) => ({
          version: "1.0.0",
          hashes: [expected.get(t)!.h1, expected.get(t)!.zh],
        })),
        `process ${i} wrote different lock entries`,
      );
      for (const t of types) {
        const linked = join(
          tmp.path,
          `work${i}`,
          ".terraform",
          "providers",
          registry.host,
          "tfcache",
          t,
          "1.0.0",
          platform,
        );
        assert.equal(await packageHashV1FromDir(linked), expected.get(t)!.h1);
      }
    }
    for (const t of types) {
      const zipPath = `/v1/providers/tfcache/${t}/1.0.0/download/${platform.replace("_", "/")}`;
      assert.ok(registry.counters.path(zipPath) >= 1);
    }
    assert.equal(
      registry.counters.byKind.zip,
      types.length,
      "each package downloaded exactly once",
    );
    assert.deepEqual(badObservations, [], "the reader saw a partial package");
    assert.ok(observations > 0, "the reader observed the packages");
    // No temporary leftovers in the shared cache.
    for (const t of types) {
      const versionDir = join(global, registry.host, "tfcache", t, "1.0.0");
      const names = (await Array.fromAsync(Deno.readDir(versionDir))).map((e) => e.name);
      assert.deepEqual(names, [platform]);
    }
  },
});

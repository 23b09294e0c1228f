import assert from "node:assert/strict";
import { parseLockFile } from "../../src/lock/lock_reader.ts";
import { formatLockFile, lockFileHeader } from "../../src/lock/lock_writer.ts";

const FIXTURES = new URL("../../../shared/fixtures/lockfiles/", import.meta.url);

/**
 * Fixtures that were not written by `terraform`/`tofu` as they stand, so writing them back
 * cannot reproduce them; for each, the exact difference we expect instead.
 */
const NOT_TOOL_WRITTEN: Readonly<Record<string, (original: string) => string>> = {
  // terragrunt fixture: two blank lines between the two provider blocks (hand-merged);
  // Terraform always writes exactly one.
  "21": (o) => o.replace("}\n\n\nprovider", "}\n\nprovider"),
  // OpenTofu test fixture: a leading blank line and an explanatory comment instead of the
  // generated header; the writer emits the standard header instead.
  "26": (o) => lockFileHeader("terraform") + o.slice(o.indexOf("\nprovider ")),
  // Terraform rpcapi test fixture: no header at all (starts with a blank line) and no
  // trailing comma after the only hash; the writer adds both.
  "30": (o) => lockFileHeader("terraform") + o.replace('abcd"\n  ]', 'abcd",\n  ]'),
};

interface Coverage {
  providers: number;
  withConstraints: number;
  h1: number;
  zh: number;
  header: string;
}

/** The "Coverage summary" table of SOURCES.md, as independent expectations. */
async function coverageTable(): Promise<Map<string, Coverage>> {
  const text = await Deno.readTextFile(new URL("SOURCES.md", FIXTURES));
  const out = new Map<string, Coverage>();
  const section = text.slice(text.indexOf("## Coverage summary"));
  for (
    const m of section.matchAll(
      /^\| (\d\d)\.terraform\.lock\.hcl \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| ([^|]+) \|$/gm,
    )
  ) {
    out.set(m[1]!, {
      providers: Number(m[2]),
      withConstraints: Number(m[3]),
      h1: Number(m[4]),
      zh: Number(m[5]),
      header: m[6]!.trim(),
    });
  }
  return out;
}

Deno.test("fixtures: all 30 real lock files read cleanly and round-trip", async (t) => {
  const coverage = await coverageTable();
  assert.equal(coverage.size, 30);
  for (let i = 1; i <= 30; i++) {
    const id = String(i).padStart(2, "0");
    await t.step(`${id}.terraform.lock.hcl`, async () => {
      const name = `${id}.terraform.lock.hcl`;
      const original = await Deno.readTextFile(new URL(name, FIXTURES));
      const { lockFile, diagnostics, headerTool } = parseLockFile(original, name);
      assert.deepEqual(diagnostics, []);

      const want = coverage.get(id)!;
      const all = lockFile.allProviders();
      assert.equal(all.length, want.providers);
      assert.equal(all.filter((p) => p.constraints !== undefined).length, want.withConstraints);
      const hashes = all.flatMap((p) => p.hashes);
      assert.equal(hashes.filter((h) => h.startsWith("h1:")).length, want.h1);
      assert.equal(hashes.filter((h) => h.startsWith("zh:")).length, want.zh);
      assert.equal(headerTool === undefined ? "(none)" : `${headerTool} init`, want.header);

      const written = formatLockFile(lockFile, { tool: headerTool ?? "terraform" });
      const adjust = NOT_TOOL_WRITTEN[id];
      if (adjust === undefined) {
        assert.equal(written, original, "byte-for-byte round trip");
      } else {
        assert.notEqual(written, original);
        assert.equal(written, adjust(original));
      }
      // Whatever the source, our own output is a fixed point and means the same.
      const again = parseLockFile(written, name);
      assert.deepEqual(again.diagnostics, []);
      assert.ok(again.lockFile.equals(lockFile));
      assert.deepEqual(
        again.lockFile.allProviders().map((p) => p.constraints),
        all.map((p) => p.constraints),
      );
      assert.equal(formatLockFile(again.lockFile, { tool: headerTool ?? "terraform" }), written);
    });
  }
});

Deno.test("fixtures: CRLF line endings read the same", async () => {
  const original = await Deno.readTextFile(new URL("05.terraform.lock.hcl", FIXTURES));
  const lf = parseLockFile(original);
  const crlf = parseLockFile(original.replaceAll("\n", "\r\n"));
  assert.deepEqual(crlf.diagnostics, []);
  assert.equal(crlf.headerTool, "terraform");
  assert.ok(crlf.lockFile.equals(lf.lockFile));
  assert.equal(formatLockFile(crlf.lockFile), original);
});

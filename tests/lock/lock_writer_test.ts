import assert from "node:assert/strict";
import { LockFile } from "../../src/lock/lock_file.ts";
import { parseLockFile } from "../../src/lock/lock_reader.ts";
import { formatLockFile, quoteHclString, saveLockFile } from "../../src/lock/lock_writer.ts";
import { parseProviderSource } from "../../src/registry/provider_address.ts";
import { parseVersion } from "../../src/registry/version.ts";
import { parseVersionConstraints } from "../../src/registry/version_constraints.ts";

function sample(): LockFile {
  const lock = new LockFile();
  const v = parseVersion;
  const c = parseVersionConstraints;
  const p = parseProviderSource;
  lock.setProvider(p("test/foo"), v("1.0.0"), c(">= 1.0.0"), [
    "test:cccccccccccccccccccccccccccccccccccccccccccccccc",
    "test:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "test:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  ]);
  lock.setProvider(p("test/bar"), v("1.2.0"), c("~> 1"));
  lock.setProvider(p("test/baz"), v("1.2.0"));
  lock.setProvider(p("test/boo"), v("1.2.0"), c("1.2"));
  return lock;
}

Deno.test("writer: constructed model gives exactly Terraform's text", () => {
  assert.equal(
    formatLockFile(sample()),
    `# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/test/bar" {
  version     = "1.2.0"
  constraints = "~> 1.0"
}

provider "registry.terraform.io/test/baz" {
  version = "1.2.0"
}

provider "registry.terraform.io/test/boo" {
  version     = "1.2.0"
  constraints = "1.2.0"
}

provider "registry.terraform.io/test/foo" {
  version     = "1.0.0"
  constraints = ">= 1.0.0"
  hashes = [
    "test:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "test:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "test:cccccccccccccccccccccccccccccccccccccccccccccccc",
  ]
}
`,
  );
});

Deno.test("writer: hashes without constraints, tofu header, host ordering", () => {
  const lock = new LockFile();
  lock.setProvider(parseProviderSource("example.com/foo/beep"), parseVersion("2.1.0"), undefined, [
    "zh:299dd806df78cb0537e5c111019eaca6e6b7797e1b63cb37cc6a76f91c6c0782",
    "h1:2y06Ykj0FRneZfGCTxI9wRTori8iB7ZL5kQ6YyEnh84=",
    "h1:2y06Ykj0FRneZfGCTxI9wRTori8iB7ZL5kQ6YyEnh84=",
  ]);
  lock.setProvider(
    parseProviderSource("registry.opentofu.org/hashicorp/aws"),
    parseVersion("6.0.0"),
  );
  lock.setProvider(parseProviderSource("hashicorp/aws"), parseVersion("6.0.0-beta1"), "");
  assert.equal(
    formatLockFile(lock, { tool: "tofu" }),
    `# This file is maintained automatically by "tofu init".
# Manual edits may be lost in future updates.

provider "example.com/foo/beep" {
  version = "2.1.0"
  hashes = [
    "h1:2y06Ykj0FRneZfGCTxI9wRTori8iB7ZL5kQ6YyEnh84=",
    "zh:299dd806df78cb0537e5c111019eaca6e6b7797e1b63cb37cc6a76f91c6c0782",
  ]
}

provider "registry.opentofu.org/hashicorp/aws" {
  version = "6.0.0"
}

provider "registry.terraform.io/hashicorp/aws" {
  version = "6.0.0-beta1"
}
`,
  );
  assert.equal(
    formatLockFile(new LockFile()),
    '# This file is maintained automatically by "terraform init".\n# Manual edits may be lost in future updates.\n',
  );
});

Deno.test("writer: hclwrite string escaping", () => {
  assert.equal(quoteHclString("plain"), '"plain"');
  assert.equal(quoteHclString('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(quoteHclString("l1\nl2\r\tx"), '"l1\\nl2\\r\\tx"');
  assert.equal(quoteHclString("${x} %{y} $ % $x"), '"$${x} %%{y} $ % $x"');
  assert.equal(quoteHclString("\u0001\u007f"), '"\\u0001\\u007f"');
  assert.equal(quoteHclString("münchen ✓ 😀"), '"münchen ✓ 😀"');
  // What we write, we read back.
  const lock = new LockFile();
  lock.setProvider(parseProviderSource("münchen.example/ns/t"), parseVersion("1.0.0"), undefined, [
    'x:"q"\\${}%{}\u0001',
  ]);
  const back = parseLockFile(formatLockFile(lock));
  assert.deepEqual(back.diagnostics, []);
  assert.ok(back.lockFile.equals(lock));
});

Deno.test("saveLockFile writes atomically with mode 0644", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/.terraform.lock.hcl`;
    await Deno.writeTextFile(path, "old");
    await saveLockFile(path, sample());
    assert.equal(await Deno.readTextFile(path), formatLockFile(sample()));
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
    }
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names, [".terraform.lock.hcl"]);
    await assert.rejects(
      saveLockFile(`${dir}/missing/.terraform.lock.hcl`, sample()),
      /^Error: Failed to update dependency lock file: Error while writing new dependency lock information to /,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

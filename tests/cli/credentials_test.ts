import assert from "node:assert/strict";
import { join } from "node:path";
import { parseUserCliConfig } from "../../src/cli/cli_config.ts";
import { loadCredentials } from "../../src/cli/credentials.ts";

Deno.test("loadCredentials: env tokens win over credentials blocks, which win over credentials.tfrc.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      join(dir, "credentials.tfrc.json"),
      JSON.stringify({
        credentials: { "a.example.com": { token: "file-a" }, "c.example.com": { token: "file-c" } },
      }),
    );
    const user = await parseUserCliConfig(
      "rc",
      'credentials "a.example.com" {\n  token = "block-a"\n}\ncredentials "b.example.com" {\n  token = "block-b"\n}\n',
    );
    const lookup = await loadCredentials(user, { TF_TOKEN_b_example_com: "env-b" }, dir);
    assert.equal(lookup("a.example.com"), "block-a");
    assert.equal(lookup("b.example.com"), "env-b");
    assert.equal(lookup("c.example.com"), "file-c");
    assert.equal(lookup("C.Example.COM"), "file-c");
    assert.equal(lookup("d.example.com"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadCredentials works without a terraform config folder", async () => {
  const user = await parseUserCliConfig("rc", "");
  const lookup = await loadCredentials(user, {}, "/nonexistent/tfcache-test");
  assert.equal(lookup("registry.terraform.io"), undefined);
});

import assert from "node:assert/strict";
import { isLocalModuleSource, parseModuleSource } from "../../src/config/module_source.ts";

Deno.test("parseModuleSource() classifies local paths", () => {
  for (const s of ["./modules/vpc", "../shared", ".\\win", "..\\win"]) {
    assert.deepEqual(parseModuleSource(s), { kind: "local", path: s });
    assert.equal(isLocalModuleSource(s), true);
  }
  assert.equal(isLocalModuleSource("modules/vpc"), false);
});

Deno.test("parseModuleSource() parses registry addresses with and without host", async (t) => {
  const cases: [string, string, string, string, string, string][] = [
    ["hashicorp/consul/aws", "registry.terraform.io", "hashicorp", "consul", "aws", ""],
    ["app.terraform.io/acme/vpc/aws", "app.terraform.io", "acme", "vpc", "aws", ""],
    ["127.0.0.1:8443/ns/name/system", "127.0.0.1:8443", "ns", "name", "system", ""],
    ["Example.COM:443/ns/name/aws//modules/x", "example.com", "ns", "name", "aws", "modules/x"],
    [
      "terraform-aws-modules/vpc/aws",
      "registry.terraform.io",
      "terraform-aws-modules",
      "vpc",
      "aws",
      "",
    ],
  ];
  for (const [raw, hostname, namespace, name, targetSystem, subdir] of cases) {
    await t.step(raw, () => {
      assert.deepEqual(parseModuleSource(raw), {
        kind: "registry",
        hostname,
        namespace,
        name,
        targetSystem,
        subdir,
      });
    });
  }
});

Deno.test("parseModuleSource() treats go-getter addresses as remote", () => {
  for (
    const s of [
      "github.com/hashicorp/example",
      "github.com/hashicorp/example/aws/x",
      "bitbucket.org/a/b/c",
      "git::https://example.com/vpc.git",
      "https://example.com/vpc-module.zip",
      "s3::https://s3-eu-west-1.amazonaws.com/bucket/vpc.zip",
      "git@github.com:hashicorp/example.git",
      "hashicorp/consul/AWS",
      "a/b",
    ]
  ) {
    assert.deepEqual(parseModuleSource(s), { kind: "remote", address: s }, s);
  }
});

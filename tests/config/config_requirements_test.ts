import assert from "node:assert/strict";
import {
  mergedConstraints,
  providerHosts,
  providerKeyAddress,
  readConfigRequirements,
} from "../../src/config/config_requirements.ts";
import { ConfigParseError, ModuleNotFoundError } from "../../src/config/errors.ts";
import { tempConfig } from "./_support/temp_config.ts";

const ROOT_TF = `terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

module "network" {
  source = "./modules/network"
}

module "storage" {
  source = "./modules/storage"
}
`;

Deno.test("readConfigRequirements() lists every module's constraints for the same provider", async () => {
  await using cfg = await tempConfig({
    "main.tf": ROOT_TF,
    "modules/network/versions.tf": `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.2" }
  }
}
module "subnets" {
  source = "../subnets"
}
`,
    "modules/storage/main.tf": `terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "< 6.0"
    }
  }
}
resource "aws_s3_bucket" "b" {}
resource "random_id" "r" {}
`,
    "modules/subnets/main.tf.json": JSON.stringify({
      terraform: { required_providers: { aws: { version: "!= 5.3.0" } } },
    }),
  });
  const req = await readConfigRequirements(cfg.dir);
  assert.deepEqual([...req.providers.keys()], [
    "registry.terraform.io/hashicorp/aws",
    "registry.terraform.io/hashicorp/random",
  ]);
  const aws = req.providers.get("registry.terraform.io/hashicorp/aws");
  assert.deepEqual(aws, [
    { constraints: ">= 5.0", from: "main.tf:3", module: "" },
    { constraints: "~> 5.2", from: "modules/network/versions.tf:3", module: "module.network" },
    {
      constraints: "!= 5.3.0",
      from: "modules/subnets/main.tf.json",
      module: "module.network.module.subnets",
    },
    { constraints: "< 6.0", from: "modules/storage/main.tf:3", module: "module.storage" },
  ]);
  assert.equal(mergedConstraints(aws ?? []), ">= 5.0.0, ~> 5.2, != 5.3.0, < 6.0.0");
  assert.deepEqual(req.providers.get("registry.terraform.io/hashicorp/random"), [
    { constraints: "", from: "modules/storage/main.tf:10", module: "module.storage" },
  ]);
  assert.deepEqual(
    req.modules.map((m) => [m.address, m.path, m.kind]),
    [
      ["", ".", "root"],
      ["module.network", "modules/network", "local"],
      ["module.network.module.subnets", "modules/subnets", "local"],
      ["module.storage", "modules/storage", "local"],
    ],
  );
  assert.deepEqual([...req.hosts], ["registry.terraform.io"]);
  assert.deepEqual(req.remoteModuleCalls, []);
});

Deno.test("readConfigRequirements() stops at cycles of local module calls", async () => {
  await using cfg = await tempConfig({
    "main.tf": `module "a" {\n  source = "./a"\n}\n`,
    "a/main.tf": `module "b" {\n  source = "../b"\n}\nresource "null_resource" "a" {}\n`,
    "b/main.tf": `module "a" {\n  source = "../a"\n}\nmodule "self" {\n  source = "./"\n}\n` +
      `resource "null_resource" "b" {}\n`,
  });
  const req = await readConfigRequirements(cfg.dir);
  assert.deepEqual(req.modules.map((m) => m.path), [".", "a", "b"]);
  assert.deepEqual(req.providers.get("registry.terraform.io/hashicorp/null"), [
    { constraints: "", from: "a/main.tf:4", module: "module.a" },
    { constraints: "", from: "b/main.tf:7", module: "module.a.module.b" },
  ]);
});

Deno.test("readConfigRequirements() collects provider and module registry hosts, ports kept", async () => {
  await using cfg = await tempConfig({
    "main.tf": `terraform {
  required_providers {
    mirror = { source = "127.0.0.1:8443/ns/type", version = "1.2.3" }
    tls    = { source = "Registry.Example.COM:443/acme/tls" }
  }
}
resource "terraform_data" "x" {}
module "private" {
  source  = "app.terraform.io/org/name/system"
  version = "~> 1.0"
}
module "public" {
  source = "terraform-aws-modules/vpc/aws//modules/vpc-endpoints"
}
module "local_registry" {
  source = "localhost:9443/a/b/c"
}
module "git" {
  source = "git::https://git.example.net/mod.git"
}
`,
  });
  const req = await readConfigRequirements(cfg.dir);
  assert.deepEqual([...req.hosts].sort(), [
    "127.0.0.1:8443",
    "app.terraform.io",
    "localhost:9443",
    "registry.example.com",
    "registry.terraform.io",
  ]);
  assert.deepEqual([...req.providers.keys()], [
    "127.0.0.1:8443/ns/type",
    "registry.example.com/acme/tls",
    "terraform.io/builtin/terraform",
  ]);
  assert.deepEqual(req.providers.get("127.0.0.1:8443/ns/type"), [
    { constraints: "1.2.3", from: "main.tf:3", module: "" },
  ]);
  assert.equal(providerKeyAddress("127.0.0.1:8443/ns/type").hostname, "127.0.0.1:8443");
  assert.deepEqual(
    req.remoteModuleCalls.map((c) => [c.name, c.registry?.hostname, c.version, c.from]),
    [
      ["private", "app.terraform.io", "~> 1.0", "main.tf:8"],
      ["public", "registry.terraform.io", undefined, "main.tf:12"],
      ["local_registry", "localhost:9443", undefined, "main.tf:15"],
      ["git", undefined, undefined, "main.tf:18"],
    ],
  );
  assert.deepEqual(await providerHosts(cfg.dir), req.hosts);
});

Deno.test("readConfigRequirements() reads installed remote modules through modules.json", async () => {
  await using cfg = await tempConfig({
    "main.tf": `module "consul" {\n  source  = "hashicorp/consul/aws"\n  version = "0.1.0"\n}\n`,
    ".terraform/modules/modules.json": JSON.stringify({
      Modules: [
        { Key: "", Source: "", Dir: "." },
        {
          Key: "consul",
          Source: "registry.terraform.io/hashicorp/consul/aws",
          Version: "0.1.0",
          Dir: ".terraform/modules/consul",
        },
        {
          Key: "consul.servers",
          Source: "./modules/consul-cluster",
          Dir: ".terraform/modules/consul/modules/consul-cluster",
        },
      ],
    }),
    ".terraform/modules/consul/main.tf": `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 4.0" }
  }
}
module "servers" {
  source = "./modules/consul-cluster"
}
`,
    ".terraform/modules/consul/modules/consul-cluster/main.tf":
      `resource "aws_instance" "server" {}\nresource "tls_private_key" "k" {}\n`,
  });
  const req = await readConfigRequirements(cfg.dir);
  assert.deepEqual(req.modules.map((m) => [m.address, m.path, m.kind]), [
    ["", ".", "root"],
    ["module.consul", ".terraform/modules/consul", "installed"],
    [
      "module.consul.module.servers",
      ".terraform/modules/consul/modules/consul-cluster",
      "local",
    ],
  ]);
  assert.deepEqual(req.providers.get("registry.terraform.io/hashicorp/aws"), [
    { constraints: ">= 4.0", from: ".terraform/modules/consul/main.tf:3", module: "module.consul" },
    {
      constraints: "",
      from: ".terraform/modules/consul/modules/consul-cluster/main.tf:1",
      module: "module.consul.module.servers",
    },
  ]);
  assert.deepEqual(req.remoteModuleCalls.map((c) => [c.name, c.installedPath]), [
    ["consul", ".terraform/modules/consul"],
  ]);

  const rootOnly = await readConfigRequirements(cfg.dir, { installedModules: false });
  assert.deepEqual(rootOnly.modules.map((m) => m.path), ["."]);
  assert.equal(rootOnly.providers.size, 0);
  assert.deepEqual(rootOnly.remoteModuleCalls.map((c) => [c.name, c.installedPath]), [
    ["consul", undefined],
  ]);
});

Deno.test("readConfigRequirements() names a missing local module and its caller", async () => {
  await using cfg = await tempConfig({
    "main.tf": `\nmodule "gone" {\n  source = "./modules/gone"\n}\n`,
  });
  await assert.rejects(
    readConfigRequirements(cfg.dir),
    (e: unknown) =>
      e instanceof ModuleNotFoundError && e.calledFrom === "main.tf:2" &&
      e.dir.endsWith("modules/gone") && /no such directory/.test(e.message),
  );
});

Deno.test("readConfigRequirements() reports a syntax error in a child module with its file", async () => {
  await using cfg = await tempConfig({
    "main.tf": `module "child" {\n  source = "./child"\n}\n`,
    "child/main.tf": `resource "null_resource" "x" {\n  triggers = {\n`,
  });
  await assert.rejects(
    readConfigRequirements(cfg.dir),
    (e: unknown) => e instanceof ConfigParseError && e.file.endsWith("child/main.tf"),
  );
});

Deno.test("readConfigRequirements() rejects a missing root directory", async () => {
  await using cfg = await tempConfig({});
  await assert.rejects(
    readConfigRequirements(`${cfg.dir}/nope`),
    (e: unknown) => e instanceof ModuleNotFoundError && e.calledFrom === "",
  );
});

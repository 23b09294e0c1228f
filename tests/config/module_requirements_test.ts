import assert from "node:assert/strict";
import { ConfigParseError, InvalidConfigError } from "../../src/config/errors.ts";
import { readModuleRequirements } from "../../src/config/module_requirements.ts";
import { providerAddressString } from "../../src/registry/provider_address.ts";
import { tempConfig } from "./_support/temp_config.ts";

const MAIN_TF = `# Root module
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      version               = "~> 5.0"
      configuration_aliases = [aws.west]
    }
    mirror = {
      source = "127.0.0.1:8443/ns/type"
    }
    legacy = "~> 1.0"
  }
}

provider "aws" {
  region = var.region
}

provider "aws" {
  alias   = "west"
  region  = "us-west-2"
}

resource "aws_instance" "web" {
  ami = "ami-\${var.x}" // "braces { in strings"
  tags = {
    Name = "web"
  }
}

resource "aws_s3_bucket" "logs" {
  provider = aws.west
}

data "http" "ip" {
  url = <<EOT
  { not a block
EOT
}

resource "terraform_data" "noop" {}

ephemeral "random_password" "db" {
  length = 16
}

module "vpc" {
  source  = "./modules/vpc"
}

module "consul" {
  source  = "hashicorp/consul/aws"
  version = "0.1.0"
  providers = {
    aws = aws.west
  }
}
`;

Deno.test("readModuleRequirements() reads required_providers with and without versions", async () => {
  await using cfg = await tempConfig({ "main.tf": MAIN_TF });
  const req = await readModuleRequirements(cfg.dir);
  assert.deepEqual(req.files, ["main.tf"]);
  const summary = [...req.requiredProviders.values()].map((r) => ({
    name: r.localName,
    addr: providerAddressString(r.address),
    source: r.source,
    version: r.versionConstraints,
    pos: r.pos,
  }));
  assert.deepEqual(summary, [
    {
      name: "aws",
      addr: "registry.terraform.io/hashicorp/aws",
      source: "hashicorp/aws",
      version: "~> 5.0",
      pos: { file: "main.tf", line: 5 },
    },
    {
      name: "mirror",
      addr: "127.0.0.1:8443/ns/type",
      source: "127.0.0.1:8443/ns/type",
      version: "",
      pos: { file: "main.tf", line: 10 },
    },
    {
      name: "legacy",
      addr: "registry.terraform.io/hashicorp/legacy",
      source: undefined,
      version: "~> 1.0",
      pos: { file: "main.tf", line: 13 },
    },
  ]);
});

Deno.test("readModuleRequirements() finds implied providers, aliases and their lines", async () => {
  await using cfg = await tempConfig({ "main.tf": MAIN_TF });
  const req = await readModuleRequirements(cfg.dir);
  const refs = req.providerReferences.map((r) =>
    `${r.subject} -> ${r.localName} ${providerAddressString(r.address)} @${r.pos.line}`
  );
  assert.deepEqual(refs, [
    `provider "aws" -> aws registry.terraform.io/hashicorp/aws @17`,
    `provider "aws" (alias "west") -> aws registry.terraform.io/hashicorp/aws @21`,
    `resource "aws_instance" "web" -> aws registry.terraform.io/hashicorp/aws @26`,
    `resource "aws_s3_bucket" "logs" -> aws registry.terraform.io/hashicorp/aws @34`,
    `data "http" "ip" -> http registry.terraform.io/hashicorp/http @37`,
    `resource "terraform_data" "noop" -> terraform terraform.io/builtin/terraform @43`,
    `ephemeral "random_password" "db" -> random registry.terraform.io/hashicorp/random @45`,
    `module "consul" providers -> aws registry.terraform.io/hashicorp/aws @56`,
  ]);
});

Deno.test("readModuleRequirements() lists module calls with source, version and line", async () => {
  await using cfg = await tempConfig({ "main.tf": MAIN_TF });
  const req = await readModuleRequirements(cfg.dir);
  assert.deepEqual(req.moduleCalls, [
    {
      name: "vpc",
      source: "./modules/vpc",
      version: undefined,
      pos: { file: "main.tf", line: 49 },
    },
    {
      name: "consul",
      source: "hashicorp/consul/aws",
      version: "0.1.0",
      pos: { file: "main.tf", line: 53 },
    },
  ]);
});

Deno.test("readModuleRequirements() resolves a provider meta-argument through required_providers", async () => {
  await using cfg = await tempConfig({
    "versions.tf": `terraform {
  required_providers {
    awsalt = { source = "example.com/acme/aws", version = ">= 2" }
  }
}
`,
    "main.tf": `resource "aws_instance" "x" {
  provider = awsalt.eu
}
resource "google_thing" "y" {}
`,
  });
  const req = await readModuleRequirements(cfg.dir);
  assert.deepEqual(
    req.providerReferences.map((r) => [r.localName, providerAddressString(r.address), r.pos]),
    [
      ["awsalt", "example.com/acme/aws", { file: "main.tf", line: 2 }],
      ["google", "registry.terraform.io/hashicorp/google", { file: "main.tf", line: 4 }],
    ],
  );
});

Deno.test("readModuleRequirements() reads check-block data sources and import targets", async () => {
  await using cfg = await tempConfig({
    "main.tf": `check "health" {
  data "dns_a_record_set" "x" {
    host = "example.com"
  }
  assert {
    condition     = true
    error_message = "no"
  }
}

import {
  to = tls_private_key.generated
  id = "abc"
}

import {
  to       = aws_instance.declared
  id       = "i-1"
  provider = aws.east
}

resource "aws_instance" "declared" {}
`,
  });
  const req = await readModuleRequirements(cfg.dir);
  assert.deepEqual(
    req.providerReferences.map((r) => [r.kind, r.subject, r.localName, r.pos.line]),
    [
      ["data", `check "health" data "dns_a_record_set" "x"`, "dns", 2],
      ["import", "import to tls_private_key.generated", "tls", 11],
      ["import", "import to aws_instance.declared", "aws", 19],
      ["resource", `resource "aws_instance" "declared"`, "aws", 22],
    ],
  );
});

Deno.test("readModuleRequirements() reads .tf.json files in Terraform's JSON shape", async () => {
  await using cfg = await tempConfig({
    "main.tf.json": JSON.stringify(
      {
        "//": "generated",
        terraform: {
          required_providers: {
            aws: { source: "hashicorp/aws", version: "~> 5.1" },
            random: "~> 3.0",
          },
        },
        provider: { aws: [{ region: "eu-west-1" }, { alias: "west", region: "us-west-2" }] },
        resource: {
          aws_instance: { web: { provider: "aws.west", ami: "x" } },
          null_resource: [{ a: {} }],
        },
        data: { http: { ip: [{ url: "https://example.com" }] } },
        module: { vpc: { source: "app.terraform.io/acme/vpc/aws", version: "1.2.3" } },
      },
      null,
      2,
    ),
  });
  const req = await readModuleRequirements(cfg.dir);
  assert.deepEqual(
    [...req.requiredProviders.values()].map((r) => [r.localName, r.versionConstraints, r.pos]),
    [["aws", "~> 5.1", { file: "main.tf.json" }], ["random", "~> 3.0", { file: "main.tf.json" }]],
  );
  assert.deepEqual(
    req.providerReferences.map((r) => [r.subject, providerAddressString(r.address)]),
    [
      [`provider "aws"`, "registry.terraform.io/hashicorp/aws"],
      [`provider "aws" (alias "west")`, "registry.terraform.io/hashicorp/aws"],
      [`resource "aws_instance" "web"`, "registry.terraform.io/hashicorp/aws"],
      [`resource "null_resource" "a"`, "registry.terraform.io/hashicorp/null"],
      [`data "http" "ip"`, "registry.terraform.io/hashicorp/http"],
    ],
  );
  assert.deepEqual(req.moduleCalls, [
    {
      name: "vpc",
      source: "app.terraform.io/acme/vpc/aws",
      version: "1.2.3",
      pos: { file: "main.tf.json" },
    },
  ]);
});

Deno.test("readModuleRequirements() applies override files after primary files", async () => {
  await using cfg = await tempConfig({
    "main.tf": `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 4.0" }
  }
}
module "m" {
  source  = "acme/m/aws"
  version = "1.0.0"
}
`,
    "override.tf": `terraform {
  required_providers {
    aws = { source = "example.com/acme/aws", version = "~> 5.0" }
  }
}
module "m" {
  version = "2.0.0"
}
`,
  });
  const req = await readModuleRequirements(cfg.dir);
  assert.deepEqual(req.files, ["main.tf", "override.tf"]);
  const aws = req.requiredProviders.get("aws");
  assert.equal(aws?.versionConstraints, "~> 5.0");
  assert.equal(aws && providerAddressString(aws.address), "example.com/acme/aws");
  assert.deepEqual(aws?.pos, { file: "override.tf", line: 3 });
  assert.deepEqual(req.moduleCalls.map((c) => [c.source, c.version]), [["acme/m/aws", "2.0.0"]]);
});

Deno.test("readModuleRequirements() returns nothing for a directory without configuration", async () => {
  await using cfg = await tempConfig({ "README.md": "# nothing" });
  const req = await readModuleRequirements(cfg.dir);
  assert.deepEqual(req.files, []);
  assert.equal(req.requiredProviders.size, 0);
  assert.deepEqual(req.providerReferences, []);
  assert.deepEqual(req.moduleCalls, []);
});

Deno.test("readModuleRequirements() reports an HCL syntax error as ConfigParseError with file and line", async () => {
  await using cfg = await tempConfig({
    "good.tf": `resource "null_resource" "a" {}\n`,
    "broken.tf": `resource "null_resource" "b" {\n  triggers = \n}\n`,
  });
  const err = await assert.rejects(readModuleRequirements(cfg.dir), ConfigParseError);
  void err;
  try {
    await readModuleRequirements(cfg.dir);
  } catch (e) {
    assert.ok(e instanceof ConfigParseError);
    assert.equal(e.file, `${cfg.dir}/broken.tf`);
    assert.equal(e.line, 2);
    assert.ok(e instanceof SyntaxError);
    assert.match(e.message, /broken\.tf" line 2: Invalid expression/);
  }
});

Deno.test("readModuleRequirements() reports an unclosed block as ConfigParseError", async () => {
  await using cfg = await tempConfig({ "main.tf": `module "x" {\n  source = "./x"\n` });
  await assert.rejects(
    readModuleRequirements(cfg.dir),
    (e: unknown) => e instanceof ConfigParseError && e.file.endsWith("/main.tf") && e.line === 1,
  );
});

Deno.test("readModuleRequirements() reports invalid JSON as ConfigParseError with the file", async () => {
  await using cfg = await tempConfig({ "main.tf.json": `{\n  "resource": {\n    "x": 1,\n  }\n}` });
  await assert.rejects(
    readModuleRequirements(cfg.dir),
    (e: unknown) =>
      e instanceof ConfigParseError && e.file.endsWith("/main.tf.json") &&
      /invalid JSON/.test(e.message),
  );
});

Deno.test("readModuleRequirements() rejects invalid values with InvalidConfigError and a line", async (t) => {
  const cases: [string, string, RegExp][] = [
    [
      "bad source",
      `terraform {\n  required_providers {\n    aws = { source = "a/b/c/d" }\n  }\n}\n`,
      /line 3: Cannot use source "a\/b\/c\/d" for provider "aws"/,
    ],
    [
      "bad version",
      `terraform {\n  required_providers {\n    aws = { version = "=> 1.0" }\n  }\n}\n`,
      /line 3: Cannot use version constraint "=> 1.0"/,
    ],
    [
      "expression version",
      `terraform {\n  required_providers {\n    aws = { version = var.v }\n  }\n}\n`,
      /must be a literal string/,
    ],
    [
      "duplicate entry",
      `terraform {\n  required_providers {\n    aws = {}\n  }\n}\nterraform {\n  required_providers {\n    aws = {}\n  }\n}\n`,
      /line 8: Duplicate required provider "aws": it is already declared at main.tf:3/,
    ],
    [
      "bad provider reference",
      `resource "aws_instance" "x" {\n  provider = aws.west.extra\n}\n`,
      /line 2: The "provider" argument of resource "aws_instance" "x" must be a provider reference/,
    ],
    [
      "module without source",
      `module "m" {\n  version = "1.0"\n}\n`,
      /line 1: module "m" has no "source"/,
    ],
    [
      "duplicate module",
      `module "m" {\n  source = "./a"\n}\nmodule "m" {\n  source = "./b"\n}\n`,
      /line 4: Duplicate module call "m"/,
    ],
  ];
  for (const [name, text, re] of cases) {
    await t.step(name, async () => {
      await using cfg = await tempConfig({ "main.tf": text });
      await assert.rejects(
        readModuleRequirements(cfg.dir),
        (e: unknown) => e instanceof InvalidConfigError && re.test(e.message),
      );
    });
  }
});

Deno.test("readModuleRequirements() takes constraints from a provider block's version argument", async () => {
  await using cfg = await tempConfig({
    "main.tf": `provider "google" {\n  version = "~> 4.0"\n}\n`,
  });
  const req = await readModuleRequirements(cfg.dir);
  assert.deepEqual(
    req.providerReferences.map((r) => [r.subject, r.versionConstraints, r.pos.line]),
    [[`provider "google"`, "~> 4.0", 1]],
  );
});

Deno.test("readModuleRequirements() reads .tofu files only for the opentofu flavor", async () => {
  await using cfg = await tempConfig({
    "main.tf": `resource "aws_instance" "x" {}\n`,
    "main.tofu": `resource "google_thing" "x" {}\n`,
  });
  const tf = await readModuleRequirements(cfg.dir);
  assert.deepEqual(tf.providerReferences.map((r) => r.localName), ["aws"]);
  const tofu = await readModuleRequirements(cfg.dir, { flavor: "opentofu" });
  assert.deepEqual(tofu.files, ["main.tofu"]);
  assert.deepEqual(tofu.providerReferences.map((r) => r.localName), ["google"]);
});

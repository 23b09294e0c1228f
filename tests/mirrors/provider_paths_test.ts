import assert from "node:assert/strict";
import { HttpError } from "../../src/proxy/errors.ts";
import { validateKey } from "../../src/proxy/cache_key.ts";
import {
  isProviderPath,
  parseProviderPath,
  providerKeys,
  providerRegistryHostBlock,
  providerServicesUrl,
  providerUrls,
} from "../../src/mirrors/provider_paths.ts";

function status(fn: () => unknown): number {
  try {
    fn();
  } catch (error) {
    if (error instanceof HttpError) return error.status;
    throw error;
  }
  return 200;
}

const P = { host: "registry.terraform.io", namespace: "hashicorp", type: "aws" };
const PKG = { ...P, version: "5.95.0", os: "linux", arch: "amd64" };

Deno.test("parseProviderPath() parses both faces", () => {
  assert.deepEqual(parseProviderPath("providers/registry.terraform.io/hashicorp/aws/index.json"), {
    face: "mirror",
    kind: "index",
    coords: P,
  });
  assert.deepEqual(parseProviderPath("providers/registry.terraform.io/hashicorp/aws/5.95.0.json"), {
    face: "mirror",
    kind: "version",
    coords: { ...P, version: "5.95.0" },
  });
  assert.deepEqual(
    parseProviderPath(
      "providers/registry.terraform.io/hashicorp/aws/terraform-provider-aws_5.95.0_linux_amd64.zip",
    ),
    { face: "mirror", kind: "zip", coords: PKG },
  );
  assert.deepEqual(
    parseProviderPath("registry/registry.terraform.io/providers/v1/hashicorp/aws/versions"),
    { face: "registry", kind: "versions", coords: P },
  );
  assert.deepEqual(
    parseProviderPath(
      "registry/registry.terraform.io/providers/v1/hashicorp/aws/5.95.0/download/linux/amd64",
    ),
    { face: "registry", kind: "download", coords: PKG },
  );
  assert.deepEqual(
    parseProviderPath("registry/registry.terraform.io/hashicorp/aws/5.95.0/SHA256SUMS"),
    { face: "registry", kind: "shasums", coords: { ...P, version: "5.95.0" } },
  );
  assert.deepEqual(
    parseProviderPath("registry/registry.terraform.io/hashicorp/aws/5.95.0/SHA256SUMS.sig"),
    { face: "registry", kind: "shasums-sig", coords: { ...P, version: "5.95.0" } },
  );
});

Deno.test("parseProviderPath() accepts dashed types, ports and pre-releases", () => {
  const parsed = parseProviderPath(
    "providers/localhost:8443/my-org/multi-word/terraform-provider-multi-word_1.0.0-beta.1_linux_arm64.zip",
  );
  assert.deepEqual(parsed, {
    face: "mirror",
    kind: "zip",
    coords: {
      host: "localhost:8443",
      namespace: "my-org",
      type: "multi-word",
      version: "1.0.0-beta.1",
      os: "linux",
      arch: "arm64",
    },
  });
});

Deno.test("parseProviderPath() refuses malformed parts with 400", () => {
  for (
    const path of [
      "providers/Registry.Terraform.io/hashicorp/aws/index.json", // not normalised
      "providers/registry.terraform.io/HashiCorp/aws/index.json",
      "providers/registry.terraform.io/hashicorp/aws_x/index.json", // underscore in type
      "providers/registry.terraform.io/hashicorp/-aws/index.json",
      "providers/registry.terraform.io/hashicorp/aws/5.x.json",
      "providers/registry.terraform.io/hashicorp/aws/../index.json",
      "providers/../hashicorp/aws/index.json",
      "providers/registry.terraform.io/hashicorp/aws/terraform-provider-aws_5.0.0_Linux_amd64.zip",
      "providers/registry.terraform.io/hashicorp/aws/terraform-provider-aws_5.0_linux_amd64.zip",
      "registry/registry.terraform.io/providers/v1/hashicorp/aws/1.0/download/linux/amd64",
      "registry/registry.terraform.io/providers/v1/hashicorp/aws/1.0.0/download/linux/AMD64",
      "registry/bad_host/providers/v1/hashicorp/aws/versions",
    ]
  ) {
    assert.equal(status(() => parseProviderPath(path)), 400, path);
  }
});

Deno.test("parseProviderPath() answers 404 for paths that name no provider object", () => {
  for (
    const path of [
      "providers/registry.terraform.io/hashicorp/aws",
      "providers/registry.terraform.io/hashicorp/aws/readme.txt",
      "providers/registry.terraform.io/hashicorp/aws/x/index.json",
      "providers/registry.terraform.io/hashicorp/aws/terraform-provider-gcp_5.0.0_linux_amd64.zip",
      "providers/registry.terraform.io/hashicorp/aws/terraform-provider-aws_5.0.0_linux.zip",
      "providers/registry.terraform.io/hashicorp/aws/terraform-provider-aws_x_5.0.0_linux_amd64.zip",
      "providers/registry.terraform.io/hashicorp/aws/aws_5.0.0_linux_amd64.zip",
      "registry/registry.terraform.io/providers/v1/hashicorp/aws/5.0.0",
      "registry/registry.terraform.io/providers/v1/hashicorp/aws/5.0.0/download/linux",
      "registry/registry.terraform.io/hashicorp/aws/5.0.0/SHA512SUMS",
    ]
  ) {
    assert.equal(status(() => parseProviderPath(path)), 404, path);
  }
});

Deno.test("isProviderPath() claims only the mirror's prefixes", () => {
  assert.ok(isProviderPath("providers/a/b/c/index.json"));
  assert.ok(isProviderPath("registry/h/providers/v1/ns/t/versions"));
  assert.ok(isProviderPath("registry/h/ns/t/1.0.0/SHA256SUMS"));
  assert.ok(isProviderPath("registry/h/ns/t/1.0.0/SHA256SUMS.sig"));
  assert.ok(!isProviderPath("registry/h/modules/v1/ns/name/system/versions"));
  assert.ok(!isProviderPath("modules/h/ns/name/system/versions"));
  assert.ok(!isProviderPath("providersx/a"));
});

Deno.test("providerKeys are valid store keys in the packed mirror layout", () => {
  const v = { ...P, version: "5.95.0" };
  const keys = [
    providerKeys.versions(P),
    providerKeys.download(PKG),
    providerKeys.shasums(v),
    providerKeys.shasumsSig(v),
    providerKeys.index(P),
    providerKeys.version(v),
    providerKeys.zip(PKG),
  ];
  for (const key of keys) validateKey(key);
  assert.deepEqual(keys, [
    "registry/registry.terraform.io/hashicorp/aws/versions.json",
    "registry/registry.terraform.io/hashicorp/aws/5.95.0/download/linux_amd64.json",
    "registry/registry.terraform.io/hashicorp/aws/5.95.0/SHA256SUMS",
    "registry/registry.terraform.io/hashicorp/aws/5.95.0/SHA256SUMS.sig",
    "providers/registry.terraform.io/hashicorp/aws/index.json",
    "providers/registry.terraform.io/hashicorp/aws/5.95.0.json",
    "providers/registry.terraform.io/hashicorp/aws/terraform-provider-aws_5.95.0_linux_amd64.zip",
  ]);
  assert.ok(providerKeys.download(PKG).startsWith(providerKeys.downloadPrefix(v)));
});

Deno.test("providerUrls and the host block point at the cache base URL", () => {
  const base = "http://127.0.0.1:4711/s3cr3t/";
  assert.equal(
    providerUrls.zip(base, { ...PKG, host: "localhost:8443" }),
    "http://127.0.0.1:4711/s3cr3t/providers/localhost:8443/hashicorp/aws/terraform-provider-aws_5.95.0_linux_amd64.zip",
  );
  assert.equal(
    providerUrls.shasumsSig(new URL(base), PKG),
    "http://127.0.0.1:4711/s3cr3t/registry/registry.terraform.io/hashicorp/aws/5.95.0/SHA256SUMS.sig",
  );
  assert.equal(
    providerServicesUrl(base, "Registry.Terraform.io"),
    "http://127.0.0.1:4711/s3cr3t/registry/registry.terraform.io/providers/v1/",
  );
  assert.equal(
    providerRegistryHostBlock(base, "registry.terraform.io", {
      "modules.v1": "http://127.0.0.1:4711/s3cr3t/modules/registry.terraform.io/",
    }),
    `host "registry.terraform.io" {
  services = {
    "providers.v1" = "http://127.0.0.1:4711/s3cr3t/registry/registry.terraform.io/providers/v1/"
    "modules.v1" = "http://127.0.0.1:4711/s3cr3t/modules/registry.terraform.io/"
  }
}
`,
  );
});

import assert from "node:assert/strict";
import { ProviderRegistryClient } from "../../src/registry/registry_client.ts";
import { ServiceDiscovery } from "../../src/registry/service_discovery.ts";
import {
  PlatformNotAvailableError,
  ProviderNotFoundError,
  RegistryNotFoundError,
  RegistryResponseError,
  RegistryStatusError,
  RegistryUnreachableError,
  VersionNotFoundError,
} from "../../src/registry/errors.ts";
import { parseProviderSource } from "../../src/registry/provider_address.ts";
import type { FetchLike } from "../../src/registry/fetch_like.ts";
import {
  type FakeHandler,
  json,
  jsonFixture,
  REGISTRY,
  startFakeRegistry,
} from "./_support/registry_server.ts";

const LINUX = { os: "linux", arch: "amd64" } as const;

/** Starts a fake registry whose discovery says `providers.v1` = `/v1/providers/`. */
function registry(routes: Record<string, string | (() => Response)>, fallback?: FakeHandler) {
  return startFakeRegistry(async (host, path, req) => {
    if (path === "/.well-known/terraform.json") return json({ "providers.v1": "/v1/providers/" });
    const route = routes[path];
    if (typeof route === "string") return await jsonFixture(REGISTRY, route);
    if (route !== undefined) return route();
    if (fallback !== undefined) return await fallback(host, path, req);
    return new Response("not found", { status: 404 });
  });
}

function client(fetchFn: FetchLike, terraformVersion?: string) {
  return new ProviderRegistryClient({
    fetch: fetchFn,
    discovery: new ServiceDiscovery({ fetch: fetchFn }),
    ...(terraformVersion === undefined ? {} : { terraformVersion }),
  });
}

Deno.test("versions() parses real registry answers", async (t) => {
  const reg = registry({
    "/v1/providers/hashicorp/aws/versions":
      "provider-versions--opentofu-prototype-hashicorp-aws-large.json",
    "/v1/providers/hashicorp/azurerm/versions":
      "provider-versions--renovate-hashicorp-azurerm.json",
    "/v1/providers/hashicorp/azurerm2/versions":
      "provider-versions--renovate-azurerm-warnings-null.json",
    "/v1/providers/csc/jira/versions": "provider-versions--csc-jira-protocol-6.json",
    "/v1/providers/cryptk/crd/versions": "provider-versions--cryptk-protocol-5.2.json",
    "/v1/providers/telmate/proxmox/versions": "provider-versions--renovate-telmate-proxmox.json",
  });
  try {
    const c = client(reg.fetch, "1.11.0");
    await t.step("large list (hashicorp/aws, 349 versions)", async () => {
      const list = await c.versions(parseProviderSource("example.com/hashicorp/aws"));
      assert.equal(list.length, 349);
      assert.equal(list[0]!.version, "3.74.1");
      assert.deepEqual(list[0]!.protocols, ["5.0"]);
      assert.deepEqual(list[0]!.platforms[0], { os: "darwin", arch: "arm64" });
      assert.ok(list[0]!.platforms.some((p) => p.os === "linux" && p.arch === "amd64"));
      assert.ok(list[0]!.platforms.length >= 7);
    });
    await t.step("warnings and extra fields", async () => {
      const res = await c.listVersions(parseProviderSource("example.com/hashicorp/azurerm"));
      assert.equal(res.versions.length, 3);
      assert.ok(Array.isArray(res.warnings));
      const nulls = await c.listVersions(parseProviderSource("example.com/hashicorp/azurerm2"));
      assert.deepEqual(nulls.warnings, []);
      assert.equal(nulls.versions[0]!.version, "2.56.0");
    });
    await t.step("protocol 6 and 5.2", async () => {
      const jira = await c.versions(parseProviderSource("example.com/csc/jira"));
      assert.deepEqual(jira[0]!.protocols, ["6.0"]);
      const crd = await c.versions(parseProviderSource("example.com/cryptk/crd"));
      assert.deepEqual(crd, [{
        version: "0.0.5",
        protocols: ["5.2"],
        platforms: [
          { os: "linux", arch: "amd64" },
          { os: "darwin", arch: "amd64" },
          { os: "darwin", arch: "arm64" },
          { os: "windows", arch: "amd64" },
        ],
      }]);
    });
    await t.step("mixed-case source is normalised and sent with headers", async () => {
      const list = await c.versions(parseProviderSource("example.com/Telmate/Proxmox"));
      assert.equal(list.length, 4);
      const seen = reg.requests.find((r) => r.path === "/v1/providers/telmate/proxmox/versions");
      assert.ok(seen);
      // Discovery went to the provider's host; the relative service URL then points at the
      // server that answered discovery.
      assert.equal(reg.requests[0]!.host, "example.com");
      assert.equal(seen.headers.get("x-terraform-version"), "1.11.0");
      assert.equal(seen.headers.get("accept"), "application/json");
    });
  } finally {
    await reg.close();
  }
});

Deno.test("download() parses real download documents", async (t) => {
  const reg = registry({
    "/v1/providers/cryptk/crd/0.0.5/download/linux/amd64":
      "provider-download--cryptk-crd-0.0.5-linux-amd64.json",
    "/v1/providers/dnachev/b2/0.0.3/download/linux/amd64":
      "provider-download--dnachev-b2-0.0.3-linux-amd64.json",
    "/v1/providers/dnachev/b2/0.0.1/download/linux/amd64":
      "provider-download--dnachev-b2-0.0.1-no-shasums.json",
    "/v1/providers/t0tt1/statuspage/0.1.15/download/linux/amd64":
      "provider-download--t0tt1-statuspage-0.1.15-linux-amd64.json",
    "/v1/providers/hashicorp/null/2.1.0/download/linux/amd64":
      "provider-download--opentofu-prototype-null-2.1.0-linux-amd64-empty-keys.json",
    "/v1/providers/hashicorp/aws/3.40.0/download/darwin/arm64":
      "provider-download--opentofu-prototype-aws-3.40.0-darwin-arm64-with-key.json",
    "/v1/providers/csc/jira/0.3.0/download/linux/amd64":
      "provider-download--csc-jira-0.3.0-linux-amd64.json",
  });
  try {
    const c = client(reg.fetch);
    await t.step("cryptk: key given by fingerprint", async () => {
      const d = await c.download(parseProviderSource("example.com/cryptk/crd"), "0.0.5", LINUX);
      assert.equal(d.filename, "terraform-provider-crd_0.0.5_linux_amd64.zip");
      assert.equal(
        d.downloadUrl,
        "https://cryptk.github.io/terraform-provider-mirror/crd/0.0.5/download/linux/amd64/terraform-provider-crd_0.0.5_linux_amd64.zip",
      );
      assert.equal(d.shasum, "7e5dbf2997635c2dddb0788c9308ab9a09c6300dd22f5b25f215a5f77e0668d3");
      assert.equal(
        d.shasumsSignatureUrl,
        "https://cryptk.github.io/terraform-provider-mirror/crd/0.0.5/download/terraform-provider-crd_0.0.5_SHA256SUMS.sig",
      );
      assert.deepEqual(d.protocols, ["5.2"]);
      assert.deepEqual(d.platform, LINUX);
      assert.equal(d.signingKeys.gpgPublicKeys.length, 1);
      const key = d.signingKeys.gpgPublicKeys[0]!;
      assert.equal(key.keyId, "E8F371D1993C37B880906E5522B3D06A7A7517E0");
      assert.match(key.asciiArmor, /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
      assert.equal(key.trustSignature, undefined);
    });
    await t.step(
      "dnachev: empty trust_signature, source fields, custom checksum names",
      async () => {
        const d = await c.download(parseProviderSource("example.com/dnachev/b2"), "0.0.3", LINUX);
        assert.equal(
          d.shasumsUrl,
          "https://dnachev.github.io/terraform/providers/private/b2/0.0.3/checksums",
        );
        const key = d.signingKeys.gpgPublicKeys[0]!;
        assert.equal(key.keyId, "2945026ADA5BEDC7");
        assert.equal(key.trustSignature, undefined);
        assert.equal(key.source, "Dido Nachev");
        assert.equal(key.sourceUrl, "https://dnachev.github.io");
      },
    );
    await t.step("unsigned providers: missing or empty SHA256SUMS URLs and keys", async () => {
      const old = await c.download(parseProviderSource("example.com/dnachev/b2"), "0.0.1", LINUX);
      assert.equal(old.shasumsUrl, undefined);
      assert.equal(old.shasumsSignatureUrl, undefined);
      assert.deepEqual(old.signingKeys, { gpgPublicKeys: [] });
      assert.equal(old.filename, "terraform-provider-b2-pv0.0.1.zip");
      const t0 = await c.download(
        parseProviderSource("example.com/t0tt1/statuspage"),
        "0.1.15",
        LINUX,
      );
      assert.equal(t0.shasumsSignatureUrl, undefined);
      assert.deepEqual(t0.signingKeys, { gpgPublicKeys: [] });
      const nul = await c.download(
        parseProviderSource("example.com/hashicorp/null"),
        "2.1.0",
        LINUX,
      );
      assert.deepEqual(nul.signingKeys, { gpgPublicKeys: [] });
    });
    await t.step("opentofu prototype and protocol 6", async () => {
      const aws = await c.download(
        parseProviderSource("example.com/hashicorp/aws"),
        "3.40.0",
        { os: "darwin", arch: "arm64" },
      );
      assert.equal(aws.signingKeys.gpgPublicKeys[0]!.keyId, "0DC64ED093B3E9FF");
      const jira = await c.download(parseProviderSource("example.com/csc/jira"), "0.3.0", LINUX);
      assert.deepEqual(jira.protocols, ["6.0"]);
      assert.equal(jira.signingKeys.gpgPublicKeys[0]!.keyId, "811A785EDAECC885");
    });
  } finally {
    await reg.close();
  }
});

Deno.test("download() resolves relative URLs against the download endpoint", async () => {
  const reg = registry({
    "/v1/providers/acme/widget/1.0.0/download/linux/amd64": () =>
      json({
        protocols: ["5.0"],
        os: "linux",
        arch: "amd64",
        filename: "terraform-provider-widget_1.0.0_linux_amd64.zip",
        download_url: "../../../files/terraform-provider-widget_1.0.0_linux_amd64.zip",
        shasums_url: "/sums/terraform-provider-widget_1.0.0_SHA256SUMS",
        shasums_signature_url: "terraform-provider-widget_1.0.0_SHA256SUMS.sig",
        shasum: "A".repeat(64),
        signing_keys: { gpg_public_keys: [] },
      }),
  });
  try {
    const c = client(reg.fetch);
    const d = await c.download(parseProviderSource("example.com/acme/widget"), "1.0.0", LINUX);
    assert.equal(
      d.downloadUrl,
      `${reg.origin}/v1/providers/acme/widget/files/terraform-provider-widget_1.0.0_linux_amd64.zip`,
    );
    assert.equal(d.shasumsUrl, `${reg.origin}/sums/terraform-provider-widget_1.0.0_SHA256SUMS`);
    assert.equal(
      d.shasumsSignatureUrl,
      `${reg.origin}/v1/providers/acme/widget/1.0.0/download/linux/terraform-provider-widget_1.0.0_SHA256SUMS.sig`,
    );
    assert.equal(d.shasum, "a".repeat(64));
  } finally {
    await reg.close();
  }
});

Deno.test("404 answers become distinguishable not-found errors", async () => {
  const reg = registry({
    "/v1/providers/acme/widget/versions": () =>
      json({ versions: [{ version: "1.0.0", protocols: ["5.0"], platforms: [LINUX] }] }),
  });
  try {
    const c = client(reg.fetch);
    const widget = parseProviderSource("example.com/acme/widget");
    const ghost = parseProviderSource("example.com/acme/ghost");

    const notFound = await c.versions(ghost).catch((e: unknown) => e);
    assert.ok(notFound instanceof ProviderNotFoundError);
    assert.ok(notFound instanceof RegistryNotFoundError);
    assert.equal(notFound.provider, "example.com/acme/ghost");
    assert.match(notFound.message, /no provider named "example\.com\/acme\/ghost"/);

    const noProvider = await c.download(ghost, "1.0.0", LINUX).catch((e: unknown) => e);
    assert.ok(noProvider instanceof ProviderNotFoundError);

    const noVersion = await c.download(widget, "9.9.9", LINUX).catch((e: unknown) => e);
    assert.ok(noVersion instanceof VersionNotFoundError);
    assert.equal(noVersion.version, "9.9.9");

    const noPlatform = await c.download(widget, "1.0.0", { os: "plan9", arch: "arm" })
      .catch((e: unknown) => e);
    assert.ok(noPlatform instanceof PlatformNotAvailableError);
    assert.equal(noPlatform.platform, "plan9_arm");
    assert.match(
      noPlatform.message,
      /"example\.com\/acme\/widget" "1\.0\.0" is not available for "plan9_arm"/,
    );
  } finally {
    await reg.close();
  }
});

Deno.test("other non-2xx answers carry the status", async () => {
  const reg = registry({
    "/v1/providers/acme/locked/versions": () => new Response("no", { status: 403 }),
    "/v1/providers/acme/broken/versions": () => new Response("oops", { status: 502 }),
  });
  try {
    const c = client(reg.fetch);
    const forbidden = await c.versions(parseProviderSource("example.com/acme/locked"))
      .catch((e: unknown) => e);
    assert.ok(forbidden instanceof RegistryStatusError);
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.message, /credentials/);
    const bad = await c.versions(parseProviderSource("example.com/acme/broken"))
      .catch((e: unknown) => e);
    assert.ok(bad instanceof RegistryStatusError);
    assert.equal(bad.status, 502);
    assert.match(bad.url, /\/v1\/providers\/acme\/broken\/versions$/);
  } finally {
    await reg.close();
  }
});

Deno.test("malformed answers name the field and URL", async (t) => {
  const good = {
    protocols: ["5.0"],
    os: "linux",
    arch: "amd64",
    filename: "terraform-provider-x_1.0.0_linux_amd64.zip",
    download_url: "https://example.com/x.zip",
    shasum: "b".repeat(64),
  };
  const cases: Array<[string, unknown, string]> = [
    ["not json", "{oops", ""],
    ["versions missing", { nope: [] }, "versions"],
    ["versions not array", { versions: {} }, "versions"],
    ["version missing", { versions: [{ protocols: [] }] }, "versions[0].version"],
    ["version not string", { versions: [{ version: 1 }] }, "versions[0].version"],
    [
      "platform os missing",
      { versions: [{ version: "1.0.0", platforms: [{ arch: "amd64" }] }] },
      "versions[0].platforms[0].os",
    ],
    [
      "protocol not string",
      { versions: [{ version: "1.0.0", protocols: [5] }] },
      "versions[0].protocols[0]",
    ],
  ];
  const downloadCases: Array<[string, unknown, string]> = [
    ["filename missing", { ...good, filename: undefined }, "filename"],
    ["download_url missing", { ...good, download_url: undefined }, "download_url"],
    ["download_url bad scheme", { ...good, download_url: "ftp://x/y.zip" }, "download_url"],
    ["shasum short", { ...good, shasum: "abc" }, "shasum"],
    ["shasum missing", { ...good, shasum: undefined }, "shasum"],
    ["wrong os echo", { ...good, os: "darwin" }, "os"],
    ["wrong arch echo", { ...good, arch: "arm64" }, "arch"],
    [
      "keys not array",
      { ...good, signing_keys: { gpg_public_keys: {} } },
      "signing_keys.gpg_public_keys",
    ],
    [
      "key without armor",
      { ...good, signing_keys: { gpg_public_keys: [{ key_id: "X" }] } },
      "signing_keys.gpg_public_keys[0].ascii_armor",
    ],
    ["body is an array", [good], ""],
  ];
  const routes: Record<string, () => Response> = {};
  cases.forEach(([, body], i) => {
    routes[`/v1/providers/acme/p${i}/versions`] = () => json(body as object);
  });
  downloadCases.forEach(([, body], i) => {
    routes[`/v1/providers/acme/d${i}/1.0.0/download/linux/amd64`] = () => json(body as object);
  });
  const reg = registry(routes);
  try {
    const c = client(reg.fetch);
    for (const [i, [name, , field]] of cases.entries()) {
      await t.step(`versions: ${name}`, async () => {
        const err = await c.versions(parseProviderSource(`example.com/acme/p${i}`))
          .catch((e: unknown) => e);
        assert.ok(err instanceof RegistryResponseError, String(err));
        assert.equal(err.field, field);
        assert.match(err.url, new RegExp(`/acme/p${i}/versions$`));
        assert.ok(err.message.includes(err.url));
      });
    }
    for (const [i, [name, , field]] of downloadCases.entries()) {
      await t.step(`download: ${name}`, async () => {
        const err = await c.download(parseProviderSource(`example.com/acme/d${i}`), "1.0.0", LINUX)
          .catch((e: unknown) => e);
        assert.ok(err instanceof RegistryResponseError, String(err));
        assert.equal(err.field, field);
        if (field !== "") assert.ok(err.message.includes(`field "${field}"`));
      });
    }
  } finally {
    await reg.close();
  }
});

Deno.test("transport failures become RegistryUnreachableError", async () => {
  const fetchFn: FetchLike = (url) => {
    if (String(url).endsWith("/.well-known/terraform.json")) {
      return Promise.resolve(json({ "providers.v1": "/v1/providers/" }));
    }
    return Promise.reject(new TypeError("connection reset"));
  };
  const c = client(fetchFn);
  const err = await c.versions(parseProviderSource("example.com/acme/widget"))
    .catch((e: unknown) => e);
  assert.ok(err instanceof RegistryUnreachableError);
  assert.equal(err.url, "https://example.com/v1/providers/acme/widget/versions");
  assert.match(err.message, /connection reset/);
});

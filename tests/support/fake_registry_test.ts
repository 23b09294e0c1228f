import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as openpgp from "npm:openpgp@6.3.2";
import {
  configure,
  Uint8ArrayReader,
  Uint8ArrayWriter,
  ZipReader,
} from "npm:@zip.js/zip.js@2.24.0";
import { unpackTar } from "npm:modern-tar@0.8.6";
import { gunzipSync } from "node:zlib";
import {
  dirhashH1,
  expectedHashes,
  fakeModuleArchive,
  type FakeModuleConfig,
  type FakeProviderConfig,
  fakeProviderZip,
  fakeProviderZipInfo,
  type FakeRegistry,
  type FakeRegistryOptions,
  fakeShasums,
  startFakeRegistry,
} from "./fake_registry.ts";
import { fakeProviderZipChunks } from "./fake_provider_zip.ts";
import {
  createTerraformSandbox,
  localPlatform,
  parseLockFile,
  runTerraform,
  terraformPath,
  writeConfig,
} from "./terraform.ts";

configure({ useWebWorkers: false });

const ALPHA: FakeProviderConfig = {
  namespace: "tfcache",
  type: "alpha",
  versions: ["1.0.0", "1.1.0", "2.0.0-beta1"],
  platforms: ["linux_amd64", "darwin_arm64", "windows_amd64"],
};
const BETA: FakeProviderConfig = {
  namespace: "tfcache",
  type: "beta",
  versions: ["0.3.0"],
  platforms: ["linux_amd64", "linux_arm64", "darwin_arm64"],
  relativeDownloadUrl: true,
  sizeBytes: 64 * 1024,
};
const GAMMA: FakeProviderConfig = {
  namespace: "tfcache",
  type: "gamma",
  versions: ["1.0.0"],
  platforms: ["linux_amd64"],
  downloadHost: "localhost",
};
const NET: FakeModuleConfig = {
  namespace: "tfcache",
  name: "net",
  system: "aws",
  versions: ["1.0.0", "1.2.0"],
  files: { "main.tf": 'output "x" { value = 1 }\n', "modules/sub/vars.tf": "# sub\n" },
};

async function withRegistry(
  options: FakeRegistryOptions,
  fn: (registry: FakeRegistry) => Promise<void>,
): Promise<void> {
  const registry = await startFakeRegistry(options);
  try {
    await fn(registry);
  } finally {
    await registry.close();
  }
}

async function get(registry: FakeRegistry, path: string, method = "GET"): Promise<Response> {
  return await registry.handler(new Request(new URL(path, registry.url), { method }));
}

async function getJson(registry: FakeRegistry, path: string): Promise<Record<string, unknown>> {
  const res = await get(registry, path);
  assert.equal(res.status, 200, `${path} → ${res.status}`);
  assert.equal(res.headers.get("content-type"), "application/json");
  return await res.json() as Record<string, unknown>;
}

async function bytes(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

interface DownloadInfo {
  protocols: string[];
  os: string;
  arch: string;
  filename: string;
  download_url: string;
  shasums_url: string;
  shasums_signature_url: string;
  shasum: string;
  signing_keys: { gpg_public_keys: { key_id: string; ascii_armor: string }[] };
}

async function downloadInfo(
  registry: FakeRegistry,
  p: FakeProviderConfig,
  version: string,
  platform: string,
): Promise<{ info: DownloadInfo; base: string }> {
  const [os, arch] = platform.split("_");
  const path = `/v1/providers/${p.namespace}/${p.type}/${version}/download/${os}/${arch}`;
  const info = await getJson(registry, path) as unknown as DownloadInfo;
  return { info, base: new URL(path, registry.url).href };
}

/** Fetches a URL from a download document through the handler (any host name). */
async function follow(registry: FakeRegistry, url: string, base: string): Promise<Response> {
  const resolved = new URL(url, base);
  return await get(registry, resolved.pathname);
}

Deno.test("discovery, versions and download documents are well-formed", async () => {
  await withRegistry({ providers: [ALPHA, BETA, GAMMA] }, async (registry) => {
    assert.match(registry.host, /^127\.0\.0\.1:\d+$/);
    assert.equal(registry.url, `https://${registry.host}`);
    const discovery = await getJson(registry, "/.well-known/terraform.json");
    assert.deepEqual(discovery, { "providers.v1": "/v1/providers/", "modules.v1": "/v1/modules/" });

    const versions = await getJson(registry, "/v1/providers/tfcache/alpha/versions");
    assert.deepEqual(versions, {
      versions: ALPHA.versions.map((version) => ({
        version,
        protocols: ["5.0"],
        platforms: [
          { os: "linux", arch: "amd64" },
          { os: "darwin", arch: "arm64" },
          { os: "windows", arch: "amd64" },
        ],
      })),
    });
    assert.equal((await get(registry, "/v1/providers/tfcache/nope/versions")).status, 404);
    await (await get(registry, "/v1/providers/tfcache/nope/versions")).body?.cancel();

    const { info } = await downloadInfo(registry, ALPHA, "1.1.0", "windows_amd64");
    const zip = fakeProviderZipInfo({ ...ALPHA, version: "1.1.0", platform: "windows_amd64" });
    assert.deepEqual(info.protocols, ["5.0"]);
    assert.equal(info.os, "windows");
    assert.equal(info.arch, "amd64");
    assert.equal(info.filename, "terraform-provider-alpha_1.1.0_windows_amd64.zip");
    assert.equal(info.shasum, zip.zipSha256);
    assert.equal(
      info.download_url,
      `${registry.url}/files/tfcache/alpha/1.1.0/terraform-provider-alpha_1.1.0_windows_amd64.zip`,
    );
    assert.equal(
      info.shasums_url,
      `${registry.url}/files/tfcache/alpha/1.1.0/terraform-provider-alpha_1.1.0_SHA256SUMS`,
    );
    assert.equal(info.shasums_signature_url, `${info.shasums_url}.sig`);
    assert.deepEqual(info.signing_keys.gpg_public_keys.map((k) => k.key_id), [
      registry.signingKeyId,
    ]);
    assert.match(registry.signingKeyId, /^[0-9A-F]{16}$/);
    assert.equal(info.signing_keys.gpg_public_keys[0]?.ascii_armor, registry.signingKeyArmored);

    // Unknown version or platform.
    for (
      const path of [
        "/v1/providers/tfcache/alpha/9.9.9/download/linux/amd64",
        "/v1/providers/tfcache/alpha/1.0.0/download/plan9/amd64",
      ]
    ) {
      const res = await get(registry, path);
      assert.equal(res.status, 404);
      await res.body?.cancel();
    }
  });
});

Deno.test("relative and cross-host download URLs resolve to the served files", async () => {
  await withRegistry({ providers: [BETA, GAMMA] }, async (registry) => {
    const { info, base } = await downloadInfo(registry, BETA, "0.3.0", "linux_arm64");
    assert.ok(info.download_url.startsWith("/files/"), info.download_url);
    assert.ok(info.shasums_url.startsWith("../"), info.shasums_url);
    const zipRes = await follow(registry, info.download_url, base);
    assert.equal(zipRes.status, 200);
    assert.equal(sha256(await bytes(zipRes)), info.shasum);
    const sums = await follow(registry, info.shasums_url, base);
    assert.equal(sums.status, 200);
    assert.match(await sums.text(), new RegExp(`^${info.shasum}  ${info.filename}$`, "m"));
    const sig = await follow(registry, info.shasums_signature_url, base);
    assert.equal(sig.status, 200);
    await sig.body?.cancel();

    const gamma = await downloadInfo(registry, GAMMA, "1.0.0", "linux_amd64");
    const url = new URL(gamma.info.download_url);
    assert.equal(url.host, `localhost:${registry.port}`);
    assert.equal(new URL(gamma.info.shasums_url).host, `localhost:${registry.port}`);
  });
});

Deno.test("provider zips are deterministic, well-formed and match SHA256SUMS", async () => {
  const spec = { namespace: "tfcache", type: "beta", version: "0.3.0", platform: "linux_amd64" };
  const sized = { ...spec, sizeBytes: 3 * 1024 * 1024 + 3 };
  assert.deepEqual(fakeProviderZip(sized), fakeProviderZip(sized));
  assert.notEqual(sha256(fakeProviderZip(sized)), sha256(fakeProviderZip({ ...sized, seed: "x" })));
  assert.notEqual(
    sha256(fakeProviderZip(sized)),
    sha256(fakeProviderZip({ ...sized, platform: "linux_arm64" })),
  );
  // The streaming generator and the in-memory builder agree.
  const streamed = createHash("sha256");
  for (const chunk of fakeProviderZipChunks(sized)) streamed.update(chunk);
  assert.equal(streamed.digest("hex"), fakeProviderZipInfo(sized).zipSha256);

  // Read the zip back with an independent implementation.
  const zip = fakeProviderZip(sized);
  const reader = new ZipReader(new Uint8ArrayReader(zip));
  const entries = await reader.getEntries();
  await reader.close();
  assert.equal(entries.length, 1);
  const entry = entries[0]!;
  assert.equal(entry.filename, "terraform-provider-beta_v0.3.0");
  assert.equal(entry.externalFileAttributes >>> 16, 0o100755);
  assert.equal(entry.directory, false);
  assert.ok(!entry.directory);
  const content = await entry.getData(new Uint8ArrayWriter());
  assert.equal(content.length, sized.sizeBytes);
  assert.ok(new TextDecoder().decode(content.subarray(0, 10)).startsWith("#!/bin/sh\n"));
  // Incompressible padding: gzip would not shrink it, so check byte diversity instead.
  const seen = new Set(content.subarray(1024, 1024 + 65536));
  assert.ok(seen.size > 250, `padding looks compressible (${seen.size} distinct bytes)`);
  const info = fakeProviderZipInfo(sized);
  assert.equal(info.h1, dirhashH1([{ name: entry.filename, sha256Hex: sha256(content) }]));
  assert.equal(info.zh, `zh:${sha256(zip)}`);

  const windows = fakeProviderZipInfo({ ...spec, platform: "windows_amd64" });
  assert.equal(windows.executableName, "terraform-provider-beta_v0.3.0.exe");

  // Two registries with the same seed serve identical bytes; SHA256SUMS lists every platform.
  const shas: string[] = [];
  for (let i = 0; i < 2; i++) {
    await withRegistry({ providers: [BETA], memoryCacheMaxBytes: 1024 }, async (registry) => {
      const { info: doc, base } = await downloadInfo(registry, BETA, "0.3.0", "darwin_arm64");
      const served = await bytes(await follow(registry, doc.download_url, base));
      assert.equal(sha256(served), doc.shasum);
      shas.push(sha256(served));
      const sums = await (await follow(registry, doc.shasums_url, base)).text();
      assert.equal(sums, fakeShasums(BETA, "0.3.0"));
      const lines = sums.trimEnd().split("\n");
      assert.deepEqual(lines, [...lines].sort());
      const expected = expectedHashes(BETA, "0.3.0");
      assert.equal(lines.length, BETA.platforms.length);
      for (const platform of BETA.platforms) {
        const name = `terraform-provider-beta_0.3.0_${platform}.zip`;
        assert.ok(lines.includes(`${expected.zh[platform]?.slice(3)}  ${name}`), name);
      }
    });
  }
  assert.equal(shas[0], shas[1]);
});

Deno.test("dirhashH1 matches known terraform values", () => {
  assert.equal(dirhashH1([]), "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  // providercache fixture: terraform-provider-null 2.0.0 (85 bytes).
  assert.equal(
    dirhashH1([{
      name: "terraform-provider-null",
      sha256Hex: "1c705b4eb296bde8abd99a75e9df466cbafcbc6e201ff77658787245f76f5343",
    }]),
    "h1:qjsREM4DqEWECD43FcPqddZ9oxCG+IaMTxvWPciS05g=",
  );
});

Deno.test("SHA256SUMS.sig verifies against the advertised key only", async () => {
  await withRegistry({ providers: [ALPHA] }, async (registry) => {
    const { info, base } = await downloadInfo(registry, ALPHA, "1.0.0", "linux_amd64");
    const sums = await bytes(await follow(registry, info.shasums_url, base));
    const sig = await bytes(await follow(registry, info.shasums_signature_url, base));
    const key = await openpgp.readKey({
      armoredKey: info.signing_keys.gpg_public_keys[0]!.ascii_armor,
    });
    assert.equal(
      key.getKeyID().toHex().toUpperCase(),
      info.signing_keys.gpg_public_keys[0]!.key_id,
    );
    const verify = async (signature: Uint8Array) => {
      const result = await openpgp.verify({
        message: await openpgp.createMessage({ binary: sums }),
        signature: await openpgp.readSignature({ binarySignature: signature }),
        verificationKeys: key,
      });
      return result.signatures[0]!.verified;
    };
    assert.equal(await verify(sig), true);

    registry.faults.set({ badSignature: true }, { provider: "tfcache/alpha" });
    const bad = await bytes(await follow(registry, info.shasums_signature_url, base));
    assert.notDeepEqual(bad, sig);
    await assert.rejects(verify(bad));
  });
});

Deno.test("fault: wrongShasum and tamperedZip", async () => {
  await withRegistry({ providers: [ALPHA] }, async (registry) => {
    const good = await downloadInfo(registry, ALPHA, "1.0.0", "linux_amd64");
    registry.faults.set({ wrongShasum: true });
    const wrong = await downloadInfo(registry, ALPHA, "1.0.0", "linux_amd64");
    assert.notEqual(wrong.info.shasum, good.info.shasum);
    assert.match(wrong.info.shasum, /^[0-9a-f]{64}$/);
    const zip = await bytes(await follow(registry, good.info.download_url, good.base));
    assert.equal(sha256(zip), good.info.shasum, "wrongShasum leaves the zip alone");
    registry.faults.clear();

    registry.faults.set({ tamperedZip: true }, { provider: "tfcache/alpha", times: 1 });
    const tampered = await bytes(await follow(registry, good.info.download_url, good.base));
    assert.equal(tampered.length, zip.length);
    assert.notEqual(sha256(tampered), good.info.shasum);
    assert.equal(tampered.filter((b, i) => b !== zip[i]).length, 1);
    const again = await bytes(await follow(registry, good.info.download_url, good.base));
    assert.equal(sha256(again), good.info.shasum, "times: 1 expires");
    assert.equal(registry.faults.rules.length, 0);
  });
});

Deno.test("fault: status500, status429 and scoping", async () => {
  await withRegistry({ providers: [ALPHA, GAMMA] }, async (registry) => {
    registry.faults.set({ status500: true }, { provider: "tfcache/alpha", kinds: ["versions"] });
    let res = await get(registry, "/v1/providers/tfcache/alpha/versions");
    assert.equal(res.status, 500);
    await res.body?.cancel();
    res = await get(registry, "/v1/providers/tfcache/gamma/versions");
    assert.equal(res.status, 200, "other providers are unaffected");
    await res.body?.cancel();
    res = await get(registry, "/v1/providers/tfcache/alpha/1.0.0/download/linux/amd64");
    assert.equal(res.status, 200, "other kinds are unaffected");
    await res.body?.cancel();
    res = await get(registry, "/.well-known/terraform.json");
    assert.equal(res.status, 200, "provider-scoped faults skip discovery");
    await res.body?.cancel();
    registry.faults.clear();

    registry.faults.set({ status429: { retryAfterSeconds: 2 } }, { times: 2 });
    for (let i = 0; i < 2; i++) {
      res = await get(registry, "/.well-known/terraform.json");
      assert.equal(res.status, 429);
      assert.equal(res.headers.get("retry-after"), "2");
      await res.body?.cancel();
    }
    res = await get(registry, "/.well-known/terraform.json");
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("fault: invalidJson", async () => {
  await withRegistry({ providers: [ALPHA], modules: [NET] }, async (registry) => {
    registry.faults.set({ invalidJson: true });
    for (
      const path of [
        "/.well-known/terraform.json",
        "/v1/providers/tfcache/alpha/versions",
        "/v1/providers/tfcache/alpha/1.0.0/download/linux/amd64",
        "/v1/modules/tfcache/net/aws/versions",
      ]
    ) {
      const res = await get(registry, path);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/json");
      const text = await res.text();
      assert.throws(() => JSON.parse(text), SyntaxError, path);
    }
    // Non-JSON kinds are untouched by default.
    const sums = await get(
      registry,
      "/files/tfcache/alpha/1.0.0/terraform-provider-alpha_1.0.0_SHA256SUMS",
    );
    assert.equal(await sums.text(), fakeShasums(ALPHA, "1.0.0"));
  });
});

Deno.test("fault: resetMidBody errors the body after half the bytes", async () => {
  await withRegistry({ providers: [BETA] }, async (registry) => {
    registry.faults.set({ resetMidBody: true });
    const { info, base } = await downloadInfo(registry, BETA, "0.3.0", "linux_amd64");
    const res = await follow(registry, info.download_url, base);
    const total = Number(res.headers.get("content-length"));
    assert.ok(total > 64 * 1024);
    let received = 0;
    await assert.rejects(async () => {
      for await (const chunk of res.body!) received += chunk.length;
    }, /reset mid-body/);
    assert.equal(received, Math.floor(total / 2));

    // Over a real TLS connection the client sees headers, then a torn body.
    using client = Deno.createHttpClient({ caCerts: [registry.caCertPem] });
    const net = await fetch(new URL(info.download_url, base), { client });
    assert.equal(net.status, 200);
    let netReceived = 0;
    await assert.rejects(async () => {
      for await (const chunk of net.body!) netReceived += chunk.length;
    });
    assert.equal(netReceived, Math.floor(total / 2));
  });
});

Deno.test("fault: slowDrip and throttle pace the body", async () => {
  await withRegistry({ providers: [BETA] }, async (registry) => {
    const { info, base } = await downloadInfo(registry, BETA, "0.3.0", "linux_amd64");
    const size =
      fakeProviderZipInfo({ ...BETA, version: "0.3.0", platform: "linux_amd64" }).zipSize;

    registry.faults.set({ throttleBytesPerSec: size * 4 }, { provider: "tfcache/beta" });
    let started = performance.now();
    const throttled = await bytes(await follow(registry, info.download_url, base));
    let elapsed = performance.now() - started;
    assert.equal(sha256(throttled), info.shasum);
    assert.ok(elapsed >= 200 && elapsed < 2000, `throttled zip took ${elapsed} ms`);
    // Throttling does not apply to metadata by default.
    started = performance.now();
    await (await follow(registry, info.shasums_url, base)).text();
    assert.ok(performance.now() - started < 150);
    registry.faults.clear();

    registry.faults.set({ slowDripBytesPerSec: 2000 }, { kinds: ["versions"] });
    started = performance.now();
    const body = await (await get(registry, "/v1/providers/tfcache/beta/versions")).text();
    elapsed = performance.now() - started;
    const expectedMs = (new TextEncoder().encode(body).length / 2000) * 1000;
    assert.ok(elapsed >= expectedMs * 0.8, `slow drip took ${elapsed} ms, want ~${expectedMs}`);
    JSON.parse(body);
  });
});

Deno.test("counters count per kind, per path and bytes; reset() clears them", async () => {
  await withRegistry({ providers: [ALPHA], modules: [NET] }, async (registry) => {
    const { info, base } = await downloadInfo(registry, ALPHA, "1.0.0", "linux_amd64");
    const zip = await bytes(await follow(registry, info.download_url, base));
    await (await follow(registry, info.shasums_url, base)).arrayBuffer();
    await (await follow(registry, info.shasums_signature_url, base)).arrayBuffer();
    await (await get(registry, "/.well-known/terraform.json")).arrayBuffer();
    await (await get(registry, "/v1/modules/tfcache/net/aws/versions")).arrayBuffer();
    const head = await get(registry, "/archives/tfcache/net/aws/1.0.0.tar.gz", "HEAD");
    assert.equal(head.status, 200);
    assert.ok(Number(head.headers.get("content-length")) > 0);
    assert.equal(head.body, null);
    await (await get(registry, "/nope")).arrayBuffer();

    const c = registry.counters;
    assert.equal(c.byKind["download-info"], 1);
    assert.equal(c.byKind.zip, 1);
    assert.equal(c.byKind.shasums, 1);
    assert.equal(c.byKind.signature, 1);
    assert.equal(c.byKind.discovery, 1);
    assert.equal(c.byKind["module-versions"], 1);
    assert.equal(c.byKind.archive, 0, "HEAD is counted separately");
    assert.equal(c.byKind.other, 1);
    assert.equal(c.head, 1);
    assert.equal(c.total, 7);
    assert.equal(c.path(new URL(info.download_url).pathname), 1);
    assert.ok(c.bytesServed > zip.length);
    assert.equal(c.log.length, 8);
    assert.deepEqual(c.log.at(-1), { method: "GET", path: "/nope", kind: "other", status: 404 });
    c.reset();
    assert.equal(c.total, 0);
    assert.equal(c.bytesServed, 0);
    assert.equal(c.byKind.zip, 0);
    assert.equal(c.byPath.size, 0);
  });
});

Deno.test("module registry: versions, download forms and archives", async () => {
  const modules: FakeModuleConfig[] = [
    NET,
    { ...NET, name: "rel", downloadForm: "json", relativeLocation: true },
    { ...NET, name: "both", downloadForm: "both" },
    {
      namespace: "tfcache",
      name: "git",
      system: "aws",
      versions: ["1.0.0"],
      sourceKind: "git",
      gitUrl: "git::http://127.0.0.1:9/repo.git?ref=v{version}",
    },
  ];
  await withRegistry({ modules }, async (registry) => {
    const versions = await getJson(registry, "/v1/modules/tfcache/net/aws/versions");
    assert.deepEqual(versions, {
      modules: [{ versions: [{ version: "1.0.0" }, { version: "1.2.0" }] }],
    });
    const missing = await get(registry, "/v1/modules/tfcache/none/aws/versions");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();

    const header = await get(registry, "/v1/modules/tfcache/net/aws/1.2.0/download");
    assert.equal(header.status, 204);
    const location = header.headers.get("x-terraform-get");
    assert.equal(location, `${registry.url}/archives/tfcache/net/aws/1.2.0.tar.gz`);

    const json = await getJson(registry, "/v1/modules/tfcache/rel/aws/1.0.0/download");
    assert.deepEqual(json, { location: "/archives/tfcache/rel/aws/1.0.0.tar.gz" });

    const both = await get(registry, "/v1/modules/tfcache/both/aws/1.0.0/download");
    assert.equal(both.status, 200);
    const bothLocation = `${registry.url}/archives/tfcache/both/aws/1.0.0.tar.gz`;
    assert.equal(both.headers.get("x-terraform-get"), bothLocation);
    assert.deepEqual(await both.json(), { location: bothLocation });

    const git = await get(registry, "/v1/modules/tfcache/git/aws/1.0.0/download");
    assert.equal(git.headers.get("x-terraform-get"), "git::http://127.0.0.1:9/repo.git?ref=v1.0.0");

    const archive = await bytes(await get(registry, new URL(location!).pathname));
    assert.deepEqual(archive, await fakeModuleArchive(NET, "1.2.0"));
    const entries = await unpackTar(gunzipSync(archive));
    assert.deepEqual(entries.map((e) => e.header.name), ["main.tf", "modules/sub/vars.tf"]);
    assert.equal(new TextDecoder().decode(entries[0]!.data), 'output "x" { value = 1 }\n');
    const gone = await get(registry, "/archives/tfcache/net/aws/9.9.9.tar.gz");
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
  });
});

Deno.test("serves HTTPS that trusts caCertPem; stop() and start() simulate an outage", async () => {
  await withRegistry({ providers: [ALPHA] }, async (registry) => {
    const bundle = await Deno.readTextFile(registry.caFile);
    assert.ok(bundle.endsWith(registry.caCertPem));
    using client = Deno.createHttpClient({ caCerts: [registry.caCertPem] });
    const url = `${registry.url}/.well-known/terraform.json`;
    let res = await fetch(url, { client });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const port = registry.port;

    await registry.stop();
    await assert.rejects(fetch(url, { client }));
    await registry.start();
    assert.equal(registry.port, port);
    res = await fetch(url, { client });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("terraform init installs directly from the fake registry", async () => {
  const terraform = terraformPath();
  if (terraform === undefined) {
    console.log("SKIP: terraform not on PATH");
    return;
  }
  const platform = localPlatform();
  const providers = [ALPHA, BETA].map((p) =>
    p.platforms.includes(platform) ? p : { ...p, platforms: [...p.platforms, platform] }
  );
  await withRegistry({ providers }, async (registry) => {
    await using sandbox = await createTerraformSandbox({ sslCertFile: registry.caFile });
    await writeConfig(sandbox.workDir, [
      { source: `${registry.host}/tfcache/alpha`, version: "~> 1.0" },
      { source: `${registry.host}/tfcache/beta` },
    ]);
    const result = await runTerraform(["init", "-input=false", "-no-color"], {
      cwd: sandbox.workDir,
      env: sandbox.env,
      terraform,
    });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const lockText = await Deno.readTextFile(`${sandbox.workDir}/.terraform.lock.hcl`);
    console.log(`direct init of 2 providers took ${result.durationMs.toFixed(0)} ms\n${lockText}`);
    const locks = parseLockFile(lockText);
    for (const [p, version] of [[providers[0]!, "1.1.0"], [providers[1]!, "0.3.0"]] as const) {
      const entry = locks.get(`${registry.host}/${p.namespace}/${p.type}`);
      assert.ok(entry !== undefined, `${p.type} is locked`);
      assert.equal(entry.version, version);
      const expected = registry.expectedHashes(`${p.namespace}/${p.type}`, version);
      const want = [expected.h1[platform]!, ...Object.values(expected.zh)].sort();
      assert.deepEqual(entry.hashes, want);
    }
    assert.match(result.stdout, /self-signed, key ID [0-9A-F]{16}/);
    assert.equal(registry.counters.byKind.zip, 2);
  });
});

Deno.test("terraform init installs registry modules (header, JSON + header, relative)", async () => {
  const terraform = terraformPath();
  if (terraform === undefined) {
    console.log("SKIP: terraform not on PATH");
    return;
  }
  const modules: FakeModuleConfig[] = [
    NET,
    { ...NET, name: "rel", downloadForm: "both", relativeLocation: true },
  ];
  await withRegistry({ modules }, async (registry) => {
    await registry.warm();
    await using sandbox = await createTerraformSandbox({ sslCertFile: registry.caFile });
    await writeConfig(sandbox.workDir, [], [
      { name: "net", source: `${registry.host}/tfcache/net/aws`, version: "~> 1.0" },
      { name: "rel", source: `${registry.host}/tfcache/rel/aws`, version: "1.0.0" },
    ]);
    const result = await runTerraform(["init", "-input=false", "-no-color", "-backend=false"], {
      cwd: sandbox.workDir,
      env: sandbox.env,
      terraform,
    });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const installed = JSON.parse(
      await Deno.readTextFile(`${sandbox.workDir}/.terraform/modules/modules.json`),
    ) as { Modules: { Key: string; Version?: string }[] };
    const versions = Object.fromEntries(installed.Modules.map((m) => [m.Key, m.Version]));
    assert.equal(versions.net, "1.2.0");
    assert.equal(versions.rel, "1.0.0");
    assert.equal(
      await Deno.readTextFile(`${sandbox.workDir}/.terraform/modules/net/modules/sub/vars.tf`),
      "# sub\n",
    );
    assert.equal(registry.counters.byKind["module-download"], 2);
    assert.equal(registry.counters.byKind.archive, 2);
  });
});

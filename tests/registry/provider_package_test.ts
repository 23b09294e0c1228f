import assert from "node:assert/strict";
import * as openpgp from "npm:openpgp@6.3.2";
import {
  authenticateProviderPackage,
  type PackageDownloadMeta,
} from "../../src/registry/provider_package.ts";
import { IntegrityError, SignatureError, ZipFormatError } from "../../src/registry/errors.ts";
import { DIRHASH, fixtureBytes, fixtureText, SIGNING } from "./_support/registry_server.ts";

const SAMPLE_SHA = "22db2f0c70b50cff42afd4878fea9f6848a63f1b6532bd8b64b899f574acb35d";
const SAMPLE_ZIP = new URL("terraform-sample_0.1.0_darwin_amd64.zip", SIGNING);
const NULL_ZIP = new URL("terraform-provider-null_2.1.0_linux_amd64.zip", DIRHASH);
const NOT_A_ZIP = new URL(
  "placeholder-not-a-zip_terraform-provider-null_2.1.0_linux_amd64.zip",
  DIRHASH,
);

async function sample(name = "terraform-sample_0.1.0_SHA256SUMS") {
  const download: PackageDownloadMeta = {
    filename: name.startsWith("terraform-cloudplugin")
      ? "terraform-cloudplugin_0.1.0_darwin_amd64.zip"
      : "sample_0.1.0_darwin_amd64.zip",
    shasum: SAMPLE_SHA,
    signingKeys: {
      gpgPublicKeys: [{
        keyId: "200BDA882C95B80A",
        asciiArmor: await fixtureText(SIGNING, "terraform-sample.public.key"),
      }],
    },
  };
  return {
    download,
    checksums: await fixtureBytes(SIGNING, name),
    signature: await fixtureBytes(SIGNING, `${name}.sig`) as Uint8Array | undefined,
  };
}

Deno.test("a real package authenticates end to end (zip → SHA256SUMS → signature → key)", async () => {
  for (
    const name of ["terraform-sample_0.1.0_SHA256SUMS", "terraform-cloudplugin_0.1.0_SHA256SUMS"]
  ) {
    const result = await authenticateProviderPackage({
      zipPath: SAMPLE_ZIP,
      ...(await sample(name)),
    });
    assert.deepEqual(result.zhHashes, [`zh:${SAMPLE_SHA}`]);
    assert.equal(result.zh, `zh:${SAMPLE_SHA}`);
    assert.equal(result.h1, "h1:mDR0Q2eYA+3fAtyWdXp1raVqxhSY+gnzonNGDari0Zg=");
    assert.equal(result.authentication.kind, "community");
    assert.equal(result.authentication.keyId, "200BDA882C95B80A");
  }
});

Deno.test("registry shasum disagreeing with SHA256SUMS is an IntegrityError", async () => {
  const s = await sample();
  const wrong = "0".repeat(64);
  const err = await authenticateProviderPackage({
    zipPath: SAMPLE_ZIP,
    ...s,
    download: { ...s.download, shasum: wrong.toUpperCase() },
  }).catch((e: unknown) => e);
  assert.ok(err instanceof IntegrityError, String(err));
  assert.equal(err.file, "sample_0.1.0_darwin_amd64.zip");
  assert.equal(err.expected, `zh:${wrong}`);
  assert.equal(err.actual, `zh:${SAMPLE_SHA}`);
  assert.match(err.message, /^Checksum of "sample_0\.1\.0_darwin_amd64\.zip" does not match/);
});

Deno.test("a filename missing from SHA256SUMS is an IntegrityError", async () => {
  const s = await sample();
  const err = await authenticateProviderPackage({
    zipPath: SAMPLE_ZIP,
    ...s,
    download: { ...s.download, filename: "other.zip" },
  }).catch((e: unknown) => e);
  assert.ok(err instanceof IntegrityError);
  assert.match(err.message, /SHA256SUMS, which has no line for it/);
});

Deno.test("a zip whose bytes differ from the shasum is an IntegrityError", async () => {
  const err = await authenticateProviderPackage({ zipPath: NULL_ZIP, ...(await sample()) })
    .catch((e: unknown) => e);
  assert.ok(err instanceof IntegrityError, String(err));
  assert.equal(err.expected, `zh:${SAMPLE_SHA}`);
  assert.equal(
    err.actual,
    "zh:299dd806df78cb0537e5c111019eaca6e6b7797e1b63cb37cc6a76f91c6c0782",
  );
  assert.match(err.message, /registry "shasum"/);
});

Deno.test("signature problems are reported before the zip is read", async () => {
  const s = await sample();
  // Missing signature, with a zip that would also fail: the signature error wins.
  await assert.rejects(
    authenticateProviderPackage({ zipPath: NULL_ZIP, ...s, signature: undefined }),
    (e: unknown) => e instanceof SignatureError && e.reason === "missing-signature",
  );
  // SHA256SUMS with an extra line: the entry still matches but the signature does not.
  const tampered = new Uint8Array([
    ...s.checksums,
    ...new TextEncoder().encode(`${"f".repeat(64)}  evil_0.1.0_linux_amd64.zip\n`),
  ]);
  await assert.rejects(
    authenticateProviderPackage({ zipPath: "/nonexistent.zip", ...s, checksums: tampered }),
    (e: unknown) => e instanceof SignatureError && /signed digest did not match/.test(e.message),
  );
});

Deno.test("a file with the right digest that is not a zip fails on the h1: step", async () => {
  const { privateKey, publicKey } = await openpgp.generateKey({
    userIDs: [{ name: "Test" }],
    format: "object",
  });
  const sha = "4fb39849f2e138eb16a18ba0c682635d781cb8c3b25901dd5a792ade9711f501";
  const filename = "terraform-provider-null_2.1.0_linux_amd64.zip";
  const checksums = new TextEncoder().encode(`${sha}  ${filename}\n`);
  const signature = await openpgp.sign({
    message: await openpgp.createMessage({ binary: checksums }),
    signingKeys: privateKey,
    detached: true,
    format: "binary",
  }) as Uint8Array;
  await assert.rejects(
    authenticateProviderPackage({
      zipPath: NOT_A_ZIP,
      download: {
        filename,
        shasum: sha,
        signingKeys: { gpgPublicKeys: [{ asciiArmor: publicKey.armor() }] },
      },
      checksums,
      signature,
    }),
    ZipFormatError,
  );
});

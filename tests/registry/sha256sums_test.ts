import assert from "node:assert/strict";
import { parseSha256Sums } from "../../src/registry/sha256sums.ts";
import { ChecksumsFormatError } from "../../src/registry/errors.ts";
import { fixtureBytes, fixtureText, SIGNING } from "./_support/registry_server.ts";

const HEX = "22db2f0c70b50cff42afd4878fea9f6848a63f1b6532bd8b64b899f574acb35d";

Deno.test("parseSha256Sums reads real GoReleaser documents (two spaces)", async () => {
  const sums = parseSha256Sums(await fixtureBytes(SIGNING, "cryptk-crd_0.0.5_SHA256SUMS"));
  assert.equal(sums.entries.length, 4);
  assert.equal(
    sums.get("terraform-provider-crd_0.0.5_linux_amd64.zip"),
    "7e5dbf2997635c2dddb0788c9308ab9a09c6300dd22f5b25f215a5f77e0668d3",
  );
  assert.equal(sums.get("terraform-provider-crd_0.0.5_LINUX_amd64.zip"), undefined);
  assert.equal(sums.has("terraform-provider-crd_0.0.5_darwin_arm64.zip"), true);
  assert.deepEqual(sums.zhHashes(), [
    "zh:6afbe4f7df43b3b463073bf9b5f9c701640b972c17dc4e48b4df780c55e59213",
    "zh:e952f2f12948413cd0865572fbb618d79220b628671fd42b84d4b024415f1d36",
    "zh:7e5dbf2997635c2dddb0788c9308ab9a09c6300dd22f5b25f215a5f77e0668d3",
    "zh:cd2a86ad6c23c5534aa7f768b79e30a4d8de00e2e26db8f0349550c097b8b417",
  ]);
  assert.equal(sums.entries[2]!.line, 3);
  assert.equal(sums.entries[2]!.binary, false);
});

Deno.test("parseSha256Sums accepts the single-space form (cryptk resty 0.0.7)", async () => {
  const sums = parseSha256Sums(await fixtureText(SIGNING, "cryptk-resty_0.0.7_SHA256SUMS"));
  assert.equal(sums.entries.length, 4);
  assert.equal(
    sums.get("terraform-provider-resty_0.0.7_linux_amd64.zip"),
    "1b7f63d3937f08ebb2d6980430d36eae9a88dca466ebbf3b1bf882b3fac75a30",
  );
});

Deno.test("parseSha256Sums lists every line, manifest included (hashicorp google reduced)", async () => {
  const sums = parseSha256Sums(
    await fixtureText(SIGNING, "hashicorp-google_4.84.0_SHA256SUMS-reduced"),
  );
  assert.equal(sums.entries.length, 3);
  assert.ok(
    sums.zhHashes().includes(
      "zh:f569b65999264a9416862bca5cd2a6177d94ccb0424f3a4ef424428912b9cb3c",
    ),
  );
  assert.equal(
    sums.get("terraform-provider-google_4.84.0_manifest.json"),
    "f569b65999264a9416862bca5cd2a6177d94ccb0424f3a4ef424428912b9cb3c",
  );
});

Deno.test("parseSha256Sums reads telmate, dnachev and terraform sample documents", async () => {
  const telmate = parseSha256Sums(await fixtureText(SIGNING, "telmate-proxmox_2.6.1_SHA256SUMS"));
  assert.ok(telmate.entries.length >= 5);
  assert.equal(
    telmate.get("terraform-provider-proxmox_2.6.1_linux_amd64.zip"),
    "2964c02fd3eeff4f19aead79c91087e7375eca1bb582036ea1105cd4d5949e2f",
  );
  const b2 = parseSha256Sums(await fixtureText(SIGNING, "dnachev-b2_0.0.3_checksums"));
  assert.equal(
    b2.get("terraform-provider-b2_0.0.3_linux_amd64.zip"),
    "60c463b0ee1df135176681b090d0eb20a06dfb2fd0d3a2df9df2a5bbdb5d7851",
  );
  const sample = parseSha256Sums(await fixtureText(SIGNING, "terraform-sample_0.1.0_SHA256SUMS"));
  assert.equal(sample.get("sample_0.1.0_darwin_amd64.zip"), HEX);
});

Deno.test("parseSha256Sums handles binary markers, CRLF, blank lines and upper-case hex", () => {
  const text = [
    `${HEX.toUpperCase()} *bin.zip\r`,
    "",
    `${"1".repeat(64)}  text.zip\r`,
    `${HEX}  bin-again.zip`,
    "   ",
    `${HEX} *bin.zip`, // identical duplicate: kept once
    "",
  ].join("\n");
  const sums = parseSha256Sums(text);
  assert.equal(sums.get("bin.zip"), HEX);
  assert.equal(sums.entries[0]!.binary, true);
  assert.equal(sums.get("text.zip"), "1".repeat(64));
  assert.equal(sums.entries.length, 3);
  assert.deepEqual(sums.zhHashes(), [`zh:${HEX}`, `zh:${"1".repeat(64)}`]);
  assert.equal(parseSha256Sums("").entries.length, 0);
});

Deno.test("parseSha256Sums rejects malformed lines with their line number", async (t) => {
  const cases: Array<[string, string, number]> = [
    ["short digest", `${HEX}  ok.zip\nabc123  bad.zip\n`, 2],
    ["no file name", `${HEX}\n`, 1],
    ["no separator", `${HEX}file.zip\n`, 1],
    ["non-hex", `${"g".repeat(64)}  x.zip\n`, 1],
    ["three spaces", `\n\n${HEX}   x.zip\n`, 3],
    ["trailing space in name", `${HEX}  x.zip \n`, 1],
    ["tab separator", `${HEX}\tx.zip\n`, 1],
    ["conflicting duplicate", `${HEX}  x.zip\n${"0".repeat(64)}  x.zip\n`, 2],
    ["prose", "This is not a checksum file\n", 1],
  ];
  for (const [name, text, line] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => parseSha256Sums(text, "sums.txt"),
        (err: unknown) => {
          assert.ok(err instanceof ChecksumsFormatError);
          assert.equal(err.line, line);
          assert.equal(err.source, "sums.txt");
          assert.match(err.message, new RegExp(`^Line ${line} of "sums\\.txt" `));
          return true;
        },
      );
    });
  }
});

import assert from "node:assert/strict";
import * as openpgp from "npm:openpgp@6.3.2";
import {
  inspectPublicKey,
  type SignatureKey,
  verifyChecksumsSignature,
} from "../../src/registry/signature.ts";
import {
  HASHICORP_KEY_FINGERPRINT,
  HASHICORP_KEY_ID,
  HASHICORP_PUBLIC_KEY,
} from "../../src/registry/hashicorp_key.ts";
import { SignatureError } from "../../src/registry/errors.ts";
import { fixtureBytes, fixtureText, SIGNING } from "./_support/registry_server.ts";

async function registryKey(file: string): Promise<SignatureKey> {
  const doc = JSON.parse(await fixtureText(SIGNING, file));
  const key = doc.signing_keys.gpg_public_keys[0];
  return { keyId: key.key_id, asciiArmor: key.ascii_armor, trustSignature: key.trust_signature };
}

const sampleKey = async (): Promise<SignatureKey> => ({
  keyId: "200BDA882C95B80A",
  asciiArmor: await fixtureText(SIGNING, "terraform-sample.public.key"),
});
const cryptkKey = () => registryKey("cryptk-crd_0.0.5_download_linux_amd64.json");
const dnachevKey = () => registryKey("dnachev-b2_0.0.3_download_linux_amd64.json");

async function pair(name: string): Promise<{ document: Uint8Array; signature: Uint8Array }> {
  return {
    document: await fixtureBytes(SIGNING, name),
    signature: await fixtureBytes(SIGNING, `${name}.sig`),
  };
}

function assertSignatureError(reason: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof SignatureError, String(err));
    assert.equal(err.reason, reason, err.message);
    if (pattern !== undefined) assert.match(err.message, pattern);
    return true;
  };
}

/** A throwaway key pair; `created` in the past and `expiresInSec` make expired keys. */
async function generated(name: string, created?: Date, expiresInSec?: number) {
  const { privateKey, publicKey } = await openpgp.generateKey({
    userIDs: [{ name }],
    format: "object",
    ...(created === undefined ? {} : { date: created }),
    ...(expiresInSec === undefined ? {} : { keyExpirationTime: expiresInSec }),
  });
  return { privateKey, publicKey, armored: publicKey.armor() };
}

async function detachedSign(
  data: Uint8Array,
  key: openpgp.PrivateKey,
  date?: Date,
): Promise<Uint8Array> {
  const message = await openpgp.createMessage({ binary: data });
  return await openpgp.sign({
    message,
    signingKeys: key,
    detached: true,
    format: "binary",
    ...(date === undefined ? {} : { date }),
  }) as Uint8Array;
}

const DOC = new TextEncoder().encode(
  "22db2f0c70b50cff42afd4878fea9f6848a63f1b6532bd8b64b899f574acb35d  terraform-provider-x_1.0.0_linux_amd64.zip\n",
);

Deno.test("real signatures: terraform release test key (both documents)", async () => {
  for (
    const name of ["terraform-sample_0.1.0_SHA256SUMS", "terraform-cloudplugin_0.1.0_SHA256SUMS"]
  ) {
    const auth = await verifyChecksumsSignature({
      ...(await pair(name)),
      keys: [await sampleKey()],
    });
    assert.equal(auth.kind, "community");
    assert.equal(auth.label, "self-signed");
    assert.equal(auth.keyId, "200BDA882C95B80A");
    assert.equal(auth.keyExpired, false);
    assert.equal(auth.keyExpiresAt, undefined);
    assert.equal(auth.signedAt?.toISOString().slice(0, 10), "2023-07-28");
  }
});

Deno.test("real signatures: dnachev key (three documents, valid until 2032)", async () => {
  const key = await dnachevKey();
  assert.equal(key.trustSignature, "");
  for (
    const name of [
      "dnachev-b2_0.0.2_checksums",
      "dnachev-b2_0.0.3_checksums",
      "dnachev-swarm_1.2.2_checksums",
    ]
  ) {
    const auth = await verifyChecksumsSignature({ ...(await pair(name)), keys: [key] });
    assert.equal(auth.kind, "community");
    assert.equal(auth.keyId, "2945026ADA5BEDC7");
    assert.equal(auth.keyExpired, false);
    assert.equal(auth.keyExpiresAt?.toISOString().slice(0, 10), "2032-02-05");
    assert.equal(auth.trustSignatureUnchecked, false);
  }
});

Deno.test("real signatures: cryptk key expired after signing is tolerated (terraform semantics)", async () => {
  const key = await cryptkKey();
  for (
    const name of [
      "cryptk-crd_0.0.5_SHA256SUMS",
      "cryptk-resty_0.0.6_SHA256SUMS",
      "cryptk-resty_0.0.7_SHA256SUMS",
    ]
  ) {
    const auth = await verifyChecksumsSignature({ ...(await pair(name)), keys: [key] });
    assert.equal(auth.kind, "community");
    assert.equal(auth.keyId, "22B3D06A7A7517E0");
    assert.equal(auth.keyExpired, true);
    assert.equal(auth.keyExpiresAt?.toISOString(), "2023-11-09T17:22:25.000Z");
    assert.equal(auth.signedAt?.toISOString().slice(0, 10), "2021-11-09");
  }
  // Before the expiry the same key is not reported as expired.
  const early = await verifyChecksumsSignature({
    ...(await pair("cryptk-crd_0.0.5_SHA256SUMS")),
    keys: [key],
    now: new Date("2022-01-01T00:00:00Z"),
  });
  assert.equal(early.keyExpired, false);
});

Deno.test("rejectExpiredKeys turns an expired signing key into an error", async () => {
  await assert.rejects(
    verifyChecksumsSignature({
      ...(await pair("cryptk-crd_0.0.5_SHA256SUMS")),
      keys: [await cryptkKey()],
      rejectExpiredKeys: true,
      subject: "example.com/cryptk/crd 0.0.5",
    }),
    assertSignatureError(
      "expired-key",
      /^Cannot verify "example\.com\/cryptk\/crd 0\.0\.5": signing key "22B3D06A7A7517E0" expired on 2023-11-09T17:22:25\.000Z$/,
    ),
  );
});

Deno.test("a tampered SHA256SUMS fails with 'signed digest did not match'", async () => {
  const { document, signature } = await pair("cryptk-crd_0.0.5_SHA256SUMS");
  const tampered = document.slice();
  tampered[0] = tampered[0] === 0x30 ? 0x31 : 0x30;
  await assert.rejects(
    verifyChecksumsSignature({ document: tampered, signature, keys: [await cryptkKey()] }),
    assertSignatureError("digest-mismatch", /signed digest did not match/),
  );
  // The signature of one document over another document (gpg: BADSIG).
  const other = await fixtureBytes(SIGNING, "terraform-cloudplugin_0.1.0_SHA256SUMS");
  const sampleSig = await fixtureBytes(SIGNING, "terraform-sample_0.1.0_SHA256SUMS.sig");
  await assert.rejects(
    verifyChecksumsSignature({ document: other, signature: sampleSig, keys: [await sampleKey()] }),
    (err: unknown) => {
      assert.ok(err instanceof SignatureError);
      assert.equal(err.reason, "digest-mismatch");
      assert.equal(err.keyId, "200BDA882C95B80A");
      return true;
    },
  );
});

Deno.test("a signature by a key the registry did not offer names the key id", async () => {
  const expiredHashicorp = await fixtureText(SIGNING, "hashicorp-C874011F_expired-2026.asc");
  await assert.rejects(
    verifyChecksumsSignature({
      ...(await pair("cryptk-crd_0.0.5_SHA256SUMS")),
      keys: [{ keyId: "34365D9472D7468F", asciiArmor: expiredHashicorp }, await sampleKey()],
    }),
    (err: unknown) => {
      assertSignatureError("unknown-key", /signature made by unknown key "22B3D06A7A7517E0"/)(err);
      assert.match((err as Error).message, /registry offered "34365D9472D7468F, 200BDA882C95B80A"/);
      assert.equal((err as SignatureError).keyId, "22B3D06A7A7517E0");
      return true;
    },
  );
});

Deno.test("keys are tried in order; non-issuers are skipped", async () => {
  const auth = await verifyChecksumsSignature({
    ...(await pair("dnachev-swarm_1.2.2_checksums")),
    keys: [await sampleKey(), await cryptkKey(), await dnachevKey()],
  });
  assert.equal(auth.keyId, "2945026ADA5BEDC7");
});

Deno.test("missing signature, no keys, unreadable key and unreadable signature", async () => {
  const { document, signature } = await pair("terraform-sample_0.1.0_SHA256SUMS");
  const keys = [await sampleKey()];
  await assert.rejects(
    verifyChecksumsSignature({ document, signature: undefined, keys }),
    assertSignatureError("missing-signature", /provided no signature/),
  );
  await assert.rejects(
    verifyChecksumsSignature({ document, signature: new Uint8Array(), keys }),
    assertSignatureError("missing-signature"),
  );
  await assert.rejects(
    verifyChecksumsSignature({ document, signature, keys: [] }),
    assertSignatureError("no-keys", /offered no signing keys.*"200BDA882C95B80A"/),
  );
  await assert.rejects(
    verifyChecksumsSignature({ document, signature, keys: [{ asciiArmor: "not a key" }] }),
    assertSignatureError("invalid-key", /signing key 1 is not a valid OpenPGP public key/),
  );
  await assert.rejects(
    verifyChecksumsSignature({ document, signature: new TextEncoder().encode("garbage"), keys }),
    assertSignatureError("invalid-signature", /not a valid OpenPGP signature/),
  );
});

Deno.test("an ASCII-armored detached signature is accepted too", async () => {
  const { document, signature } = await pair("terraform-sample_0.1.0_SHA256SUMS");
  const parsed = await openpgp.readSignature({ binarySignature: signature });
  const armored = new TextEncoder().encode(parsed.armor());
  const auth = await verifyChecksumsSignature({
    document,
    signature: armored,
    keys: [await sampleKey()],
  });
  assert.equal(auth.keyId, "200BDA882C95B80A");
});

Deno.test("the embedded HashiCorp key is the current (2030) key; the 2026 copy is expired", async () => {
  const current = await fixtureText(SIGNING, "hashicorp-C874011F_expires-2030.asc");
  assert.equal(HASHICORP_PUBLIC_KEY, current);
  const info = await inspectPublicKey(HASHICORP_PUBLIC_KEY);
  assert.equal(info.keyId, HASHICORP_KEY_ID);
  assert.equal(info.fingerprint, HASHICORP_KEY_FINGERPRINT);
  assert.equal(info.expiresAt?.toISOString().slice(0, 10), "2030-03-01");
  assert.equal(info.expired, false);
  assert.equal(
    (await inspectPublicKey(HASHICORP_PUBLIC_KEY, new Date("2031-01-01"))).expired,
    true,
  );

  const old = await inspectPublicKey(
    await fixtureText(SIGNING, "hashicorp-C874011F_expired-2026.asc"),
    new Date("2026-11-22T00:00:00Z"),
  );
  assert.equal(old.keyId, HASHICORP_KEY_ID);
  assert.equal(old.expiresAt?.toISOString().slice(0, 10), "2026-04-18");
  assert.equal(old.expired, true);

  const previous = await inspectPublicKey(
    await fixtureText(SIGNING, "hashicorp-51852D87348FFC4C_2014-key.asc"),
  );
  assert.equal(previous.keyId, "51852D87348FFC4C");
  assert.equal(previous.expiresAt, undefined);
  assert.equal(previous.expired, false);
});

Deno.test("a document that also verifies against the official key is 'official'", async () => {
  const official = await generated("Fake HashiCorp");
  const signature = await detachedSign(DOC, official.privateKey);
  const auth = await verifyChecksumsSignature({
    document: DOC,
    signature,
    keys: [{ asciiArmor: official.armored }],
    officialKey: official.armored,
  });
  assert.equal(auth.kind, "official");
  assert.equal(auth.label, "signed by HashiCorp");
  assert.equal(auth.keyId, official.publicKey.getKeyID().toHex().toUpperCase());
  // With the real embedded HashiCorp key the same signer is only self-signed.
  const community = await verifyChecksumsSignature({
    document: DOC,
    signature,
    keys: [{ asciiArmor: official.armored }],
  });
  assert.equal(community.kind, "community");
});

Deno.test("an official key that expired after signing stays official (like hashicorp-*-expired-2026)", async () => {
  const created = new Date(Date.now() - 30 * 86400_000);
  const expired = await generated("Expired HashiCorp", created, 86400);
  const signature = await detachedSign(
    DOC,
    expired.privateKey,
    new Date(created.getTime() + 3600_000),
  );
  const auth = await verifyChecksumsSignature({
    document: DOC,
    signature,
    keys: [{ asciiArmor: expired.armored }],
    officialKey: expired.armored,
  });
  assert.equal(auth.kind, "official");
  assert.equal(auth.keyExpired, true);
  await assert.rejects(
    verifyChecksumsSignature({
      document: DOC,
      signature,
      keys: [{ asciiArmor: expired.armored }],
      officialKey: expired.armored,
      rejectExpiredKeys: true,
    }),
    assertSignatureError("expired-key"),
  );
});

Deno.test("a signature made after the key expired is tolerated but reported", async () => {
  const created = new Date(Date.now() - 30 * 86400_000);
  // openpgp refuses to sign with an expired key, so sign with a non-expiring copy and then
  // re-certify the same key material with a one-day expiry.
  const key = await generated("Expired later", created);
  const late = new Date(created.getTime() + 5 * 86400_000);
  const signature = await detachedSign(DOC, key.privateKey, late);
  const { publicKey: expiring } = await openpgp.reformatKey({
    privateKey: key.privateKey,
    userIDs: [{ name: "Expired later" }],
    keyExpirationTime: 86400,
    date: created,
    format: "object",
  });
  assert.equal(
    (await verifyChecksumsSignature({
      document: DOC,
      signature,
      keys: [{ asciiArmor: key.armored }],
    }))
      .keyExpired,
    false,
  );
  // Tolerated like terraform (go-crypto's ErrKeyExpired), but reported.
  const auth = await verifyChecksumsSignature({
    document: DOC,
    signature,
    keys: [{ asciiArmor: expiring.armor() }],
  });
  assert.equal(auth.keyExpired, true);
  assert.equal(auth.keyExpiredAtSigning, true);
  // The digest is still checked on that path.
  const altered = DOC.slice();
  altered[3] = altered[3]! ^ 1;
  await assert.rejects(
    verifyChecksumsSignature({
      document: altered,
      signature,
      keys: [{ asciiArmor: expiring.armor() }],
    }),
    assertSignatureError("digest-mismatch", /signed digest did not match/),
  );
  await assert.rejects(
    verifyChecksumsSignature({
      document: DOC,
      signature,
      keys: [{ asciiArmor: expiring.armor() }],
      rejectExpiredKeys: true,
    }),
    assertSignatureError("expired-key", /before the signature was made/),
  );
});

Deno.test("trust signatures: partner with a partners key, error when invalid, unchecked without", async () => {
  const author = await generated("Partner Inc");
  const partners = await generated("Fake HashiCorp Partners");
  const stranger = await generated("Not HashiCorp");
  const signature = await detachedSign(DOC, author.privateKey);
  const authorBytes = (await openpgp.unarmor(author.armored)).data as Uint8Array;
  const trust = async (key: openpgp.PrivateKey) =>
    await openpgp.sign({
      message: await openpgp.createMessage({ binary: authorBytes }),
      signingKeys: key,
      detached: true,
    }) as string;

  const partner = await verifyChecksumsSignature({
    document: DOC,
    signature,
    keys: [{ asciiArmor: author.armored, trustSignature: await trust(partners.privateKey) }],
    partnersKey: partners.armored,
  });
  assert.equal(partner.kind, "partner");
  assert.equal(partner.label, "signed by a HashiCorp partner");

  await assert.rejects(
    verifyChecksumsSignature({
      document: DOC,
      signature,
      keys: [{ asciiArmor: author.armored, trustSignature: await trust(stranger.privateKey) }],
      partnersKey: partners.armored,
    }),
    assertSignatureError("trust-signature", /trust signature of key ".*" is not valid/),
  );

  const unchecked = await verifyChecksumsSignature({
    document: DOC,
    signature,
    keys: [{ asciiArmor: author.armored, trustSignature: await trust(partners.privateKey) }],
  });
  assert.equal(unchecked.kind, "community");
  assert.equal(unchecked.trustSignatureUnchecked, true);
});

import assert from "node:assert/strict";
import * as openpgp from "npm:openpgp@6.3.2";
import { HttpError } from "../../src/proxy/errors.ts";
import {
  requiresOfficialSignature,
  verifyChecksumsSignature,
} from "../../src/mirrors/provider_integrity.ts";
import { HASHICORP_KEY_ID } from "../../src/registry/hashicorp_key.ts";

const SUMS = new TextEncoder().encode(
  `${"a".repeat(64)}  terraform-provider-x_1.0.0_linux_amd64.zip\n`,
);

async function signed(): Promise<{ armored: string; keyId: string; sig: Uint8Array }> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: "ecc",
    curve: "curve25519Legacy",
    userIDs: [{ name: "provider author" }],
    format: "object",
  });
  const sig = await openpgp.sign({
    message: await openpgp.createMessage({ binary: SUMS }),
    signingKeys: privateKey,
    detached: true,
    format: "binary",
  });
  return {
    armored: publicKey.armor(),
    keyId: publicKey.getKeyID().toHex().toUpperCase(),
    sig: sig as Uint8Array,
  };
}

const COMMUNITY = { host: "registry.terraform.io", namespace: "someone", type: "x" };
const OFFICIAL = { host: "registry.terraform.io", namespace: "hashicorp", type: "x" };

Deno.test("requiresOfficialSignature() is true only for registry.terraform.io/hashicorp/*", () => {
  assert.ok(requiresOfficialSignature(OFFICIAL));
  assert.ok(!requiresOfficialSignature(COMMUNITY));
  assert.ok(!requiresOfficialSignature({ ...OFFICIAL, host: "example.com" }));
});

type SignedSums = Awaited<ReturnType<typeof signed>>;

/** Verifies `sums` (default {@linkcode SUMS}) for `provider`, offering the key that signed it. */
function verify(
  provider: typeof COMMUNITY,
  { armored, keyId, sig }: SignedSums,
  sums: Uint8Array = SUMS,
): ReturnType<typeof verifyChecksumsSignature> {
  return verifyChecksumsSignature({
    provider,
    version: "1.0.0",
    sums,
    signature: sig,
    keys: [{ ascii_armor: armored, key_id: keyId }],
    sumsUrl: "https://example.com/SHA256SUMS",
  });
}

/** The error `verifying` rejects with, checked to be a 502 {@linkcode HttpError}. */
async function refusal(verifying: Promise<unknown>): Promise<HttpError> {
  const error = await verifying.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof HttpError, `expected an HttpError, got ${String(error)}`);
  assert.equal(error.status, 502);
  return error;
}

Deno.test("verifyChecksumsSignature() accepts a community signature by an offered key", async () => {
  const key = await signed();
  const auth = await verify(COMMUNITY, key);
  assert.equal(auth.keyId, key.keyId);
  assert.equal(auth.kind, "community");
});

Deno.test("verifyChecksumsSignature() refuses hashicorp/* not signed by HashiCorp's key", async () => {
  const key = await signed();
  const error = await refusal(verify(OFFICIAL, key));
  assert.match(error.message, /Invalid signature/);
  assert.ok(error.message.includes(key.keyId) && error.message.includes(HASHICORP_KEY_ID));
});

Deno.test("verifyChecksumsSignature() refuses an altered document and names the key id", async () => {
  const key = await signed();
  const altered = SUMS.slice();
  altered[0] = 0x62;
  const error = await refusal(verify(COMMUNITY, key, altered));
  assert.match(error.message, new RegExp(`Invalid signature.*key id ${key.keyId}`));
});

/**
 * Verifies the detached OpenPGP signature of a provider's SHA256SUMS document and classifies
 * the signer the way terraform does (`internal/getproviders/package_authentication.go`):
 *
 * 1. The signature must verify against one of the keys the registry returned for the package
 *    (`signing_keys.gpg_public_keys`), tried in order; a key that did not issue the signature is
 *    skipped, any other failure is terminal. No keys, or no issuing key, is an error — there is
 *    no "skip signing" path, as in terraform.
 * 2. If the document also verifies against HashiCorp's embedded release key, the package is
 *    `official` ("signed by HashiCorp").
 * 3. Otherwise, if the signing key carries a `trust_signature`, that detached signature over the
 *    de-armored signing key must verify against HashiCorp's partners key → `partner`; a bad trust
 *    signature is an error. The partners key is NOT embedded in this tool (it is not among our
 *    vetted fixtures); pass it as `partnersKey`. Without it a trust signature cannot be checked
 *    and the result stays `community` with `trustSignatureUnchecked: true`.
 * 4. Otherwise the package is `community` ("self-signed").
 *
 * Expired keys (terraform semantics, reference-providercache §7.5): a key that was valid when it
 * made the signature but has expired since is **tolerated** — terraform accepts such packages
 * (many community providers, e.g. the cryptk fixtures, are signed by keys that expired after
 * release). The result reports `keyExpired: true` and `keyExpiresAt` so callers can warn. Pass
 * `rejectExpiredKeys: true` (OpenTofu's `OPENTOFU_ENFORCE_GPG_EXPIRATION=true`) to turn that into
 * a {@linkcode SignatureError} with reason `expired-key`. go-crypto (terraform's OpenPGP library)
 * checks expiry against the current time only, so terraform also accepts a signature made after
 * the key expired; we match that (signature creation times are set by the signer and prove
 * nothing) and report it as `keyExpiredAtSigning: true`. The digest is always checked.
 *
 * @module
 */

import * as openpgp from "npm:openpgp@6.3.2";
import { SignatureError } from "./errors.ts";
import { HASHICORP_PUBLIC_KEY } from "./hashicorp_key.ts";

/** How trustworthy the signer of a package is. */
export type AuthenticationKind = "official" | "partner" | "community";

/** A key offered by the registry (the `GpgPublicKey` shape of `registry_client.ts`). */
export interface SignatureKey {
  /** Key id as the registry gives it (informational; the armored key is authoritative). */
  readonly keyId?: string;
  /** ASCII-armored public key. */
  readonly asciiArmor: string;
  /** ASCII-armored detached signature of the key by HashiCorp's partners key. */
  readonly trustSignature?: string;
}

/** The outcome of a successful signature check. */
export interface SignatureAuthentication {
  /** `official`, `partner` or `community`. */
  readonly kind: AuthenticationKind;
  /** Long key id (16 hex, upper-case) of the primary key that signed, as terraform reports. */
  readonly keyId: string;
  /** Terraform's wording: `signed by HashiCorp`, `signed by a HashiCorp partner`, `self-signed`. */
  readonly label: string;
  /** When the signature was made. */
  readonly signedAt: Date | undefined;
  /** True when the signing key (or signing subkey) has expired since it signed. */
  readonly keyExpired: boolean;
  /** True when the key had already expired when the signature was made (tolerated too). */
  readonly keyExpiredAtSigning: boolean;
  /** When the signing key expires / expired; `undefined` when it never expires. */
  readonly keyExpiresAt: Date | undefined;
  /** True when the key has a trust signature that could not be checked (no partners key given). */
  readonly trustSignatureUnchecked: boolean;
}

/** Input of {@linkcode verifyChecksumsSignature}. */
export interface VerifyChecksumsSignatureOptions {
  /** The raw SHA256SUMS bytes, exactly as downloaded. */
  document: Uint8Array;
  /** The detached signature (binary, or ASCII-armored); `undefined`/empty when none was found. */
  signature: Uint8Array | undefined;
  /** Keys offered by the registry, in order. */
  keys: readonly SignatureKey[];
  /** Name of the document / provider for messages, e.g. `registry.terraform.io/hashicorp/aws 5.31.0`. */
  subject?: string;
  /** Armored key that makes a package `official` (default: the embedded HashiCorp key). */
  officialKey?: string;
  /** Armored HashiCorp partners key; without it trust signatures are not checked. */
  partnersKey?: string;
  /** Reject keys that expired after signing (default false, as terraform). */
  rejectExpiredKeys?: boolean;
  /** "Now", for expiry checks (default: the current time). */
  now?: Date;
}

const _LABELS: Readonly<Record<AuthenticationKind, string>> = {
  official: "signed by HashiCorp",
  partner: "signed by a HashiCorp partner",
  community: "self-signed",
};

/** Parsed keys are reused across calls (registries send the same few keys); bounded. */
const _KEY_CACHE_LIMIT = 64;
const _keyCache = new Map<string, Promise<openpgp.PublicKey>>();

/**
 * Verifies SHA256SUMS against its detached signature and the registry's keys.
 *
 * @param options Document, signature, keys and policy.
 * @returns The authentication result.
 * @throws {SignatureError} with `reason`:
 *   `missing-signature` (no signature bytes), `no-keys` (the registry offered no keys),
 *   `invalid-signature` (the signature does not parse), `invalid-key` (a key does not parse),
 *   `unknown-key` (no offered key issued the signature; the message names the issuer key id),
 *   `digest-mismatch` (the document was altered: "signed digest did not match"),
 *   `expired-key` (only with `rejectExpiredKeys`), `trust-signature` (bad partner signature).
 * @example
 * ```ts ignore
 * const auth = await verifyChecksumsSignature({ document, signature, keys: download.signingKeys.gpgPublicKeys });
 * auth.kind; // "community"
 * ```
 */
export async function verifyChecksumsSignature(
  options: VerifyChecksumsSignatureOptions,
): Promise<SignatureAuthentication> {
  const subject = options.subject ?? "SHA256SUMS";
  const now = options.now ?? new Date();
  if (options.signature === undefined || options.signature.byteLength === 0) {
    throw new SignatureError(
      "missing-signature",
      `Cannot verify "${subject}": the registry provided no signature for it`,
    );
  }
  const signature = await _readSignature(options.signature, subject);
  const issuers = signature.getSigningKeyIDs().map((id) => id.toHex().toUpperCase());
  if (options.keys.length === 0) {
    throw new SignatureError(
      "no-keys",
      `Cannot verify "${subject}": the registry offered no signing keys (signature made by key "${
        issuers.join(", ")
      }")`,
      _keyIdOption(issuers[0]),
    );
  }
  const signedAt = signature.packets[0]?.created ?? undefined;

  for (const [index, offered] of options.keys.entries()) {
    const key = await _readKey(offered.asciiArmor, `signing key ${index + 1}`, subject);
    const signingKeys = signature.getSigningKeyIDs().flatMap((id) => key.getKeys(id));
    if (signingKeys.length === 0) continue; // Not the issuer: try the next key.
    const keyId = key.getKeyID().toHex().toUpperCase();
    const expiredAtSigning = await _verify(options.document, signature, key, subject, keyId);

    const expiresAt = await _expiry(key, signingKeys[0]!);
    const keyExpired = expiredAtSigning ||
      (expiresAt !== undefined && expiresAt.getTime() <= now.getTime());
    if (keyExpired && options.rejectExpiredKeys === true) {
      throw new SignatureError(
        "expired-key",
        `Cannot verify "${subject}": signing key "${keyId}" ${
          expiresAt === undefined ? "has expired" : `expired on ${expiresAt.toISOString()}`
        }${expiredAtSigning ? ", before the signature was made" : ""}`,
        { keyId },
      );
    }

    let kind: AuthenticationKind = "community";
    let trustSignatureUnchecked = false;
    if (
      await _verifiesWith(options.document, signature, options.officialKey ?? HASHICORP_PUBLIC_KEY)
    ) {
      kind = "official";
    } else if (offered.trustSignature !== undefined && offered.trustSignature !== "") {
      if (options.partnersKey === undefined) {
        trustSignatureUnchecked = true;
      } else {
        await _verifyTrustSignature(offered, options.partnersKey, subject, keyId);
        kind = "partner";
      }
    }
    return {
      kind,
      keyId,
      label: _LABELS[kind],
      signedAt,
      keyExpired,
      keyExpiredAtSigning: expiredAtSigning,
      keyExpiresAt: expiresAt,
      trustSignatureUnchecked,
    };
  }

  const offeredIds = options.keys.map((k) => k.keyId).filter((k) => k !== undefined && k !== "");
  throw new SignatureError(
    "unknown-key",
    `Cannot verify "${subject}": signature made by unknown key "${issuers.join(", ")}"${
      offeredIds.length > 0 ? ` (registry offered "${offeredIds.join(", ")}")` : ""
    }`,
    _keyIdOption(issuers[0]),
  );
}

/** Facts about an armored public key, for diagnostics and key-rotation checks. */
export interface PublicKeyInfo {
  /** Long key id (16 hex, upper-case). */
  readonly keyId: string;
  /** Fingerprint (40 hex, upper-case for v4 keys). */
  readonly fingerprint: string;
  /** When the primary key expires; `undefined` when it never does. */
  readonly expiresAt: Date | undefined;
  /** Whether it has expired at `now`. */
  readonly expired: boolean;
}

/**
 * Reads an armored public key and reports its id and expiry.
 *
 * @param asciiArmor The armored key.
 * @param now "Now" for the expiry check (default: the current time).
 * @returns Id, fingerprint and expiry.
 * @throws {SignatureError} with reason `invalid-key` when the key does not parse.
 */
export async function inspectPublicKey(
  asciiArmor: string,
  now: Date = new Date(),
): Promise<PublicKeyInfo> {
  const key = await _readKey(asciiArmor, "public key", "public key");
  const expiresAt = _date(await key.getExpirationTime());
  return {
    keyId: key.getKeyID().toHex().toUpperCase(),
    fingerprint: key.getFingerprint().toUpperCase(),
    expiresAt,
    expired: expiresAt !== undefined && expiresAt.getTime() <= now.getTime(),
  };
}

async function _readSignature(bytes: Uint8Array, subject: string): Promise<openpgp.Signature> {
  try {
    if (_looksArmored(bytes)) {
      return await openpgp.readSignature({ armoredSignature: new TextDecoder().decode(bytes) });
    }
    return await openpgp.readSignature({ binarySignature: bytes });
  } catch (cause) {
    throw new SignatureError(
      "invalid-signature",
      `Cannot verify "${subject}": the signature is not a valid OpenPGP signature: ${
        _message(cause)
      }`,
      { cause },
    );
  }
}

function _readKey(armored: string, what: string, subject: string): Promise<openpgp.PublicKey> {
  let pending = _keyCache.get(armored);
  if (pending === undefined) {
    if (_keyCache.size >= _KEY_CACHE_LIMIT) _keyCache.clear();
    pending = openpgp.readKey({ armoredKey: armored });
    _keyCache.set(armored, pending);
    pending.catch(() => _keyCache.delete(armored));
  }
  return pending.catch((cause: unknown) => {
    throw new SignatureError(
      "invalid-key",
      `Cannot verify "${subject}": ${what} is not a valid OpenPGP public key: ${_message(cause)}`,
      { cause },
    );
  });
}

/**
 * Verifies the signature with one key. Returns true when it verified only by ignoring the key's
 * expiry (the key had expired when the signature was made): go-crypto, which terraform uses,
 * reports that as the tolerated `ErrKeyExpired`, so we do too.
 */
async function _verify(
  document: Uint8Array,
  signature: openpgp.Signature,
  key: openpgp.PublicKey,
  subject: string,
  keyId: string,
): Promise<boolean> {
  try {
    const message = await openpgp.createMessage({ binary: document });
    const result = await openpgp.verify({
      message,
      signature,
      verificationKeys: key,
      expectSigned: false,
    });
    if (result.signatures.length === 0) throw new Error("no signature packets");
    for (const s of result.signatures) await s.verified;
    return false;
  } catch (cause) {
    const text = _message(cause);
    if (/expired/i.test(text)) {
      // openpgp.js refuses keys that were expired at signing time before checking the digest;
      // check the signature cryptographically on the packet level instead.
      await _verifyPacketIgnoringKeyExpiry(document, signature, key, subject, keyId);
      return true;
    }
    throw _verifyError(cause, subject, keyId);
  }
}

async function _verifyPacketIgnoringKeyExpiry(
  document: Uint8Array,
  signature: openpgp.Signature,
  key: openpgp.PublicKey,
  subject: string,
  keyId: string,
): Promise<void> {
  try {
    const packet = signature.packets[0];
    if (packet === undefined) throw new Error("no signature packets");
    const signer = key.getKeys(packet.issuerKeyID ?? undefined)[0];
    if (signer === undefined) throw new Error("signing key packet not found");
    const message = await openpgp.createMessage({ binary: document });
    const literal = message.packets.find((p) => p instanceof openpgp.LiteralDataPacket);
    if (!(literal instanceof openpgp.LiteralDataPacket)) throw new Error("no literal data");
    await packet.verify(
      signer.keyPacket,
      openpgp.enums.signature.binary,
      literal,
      packet.created ?? new Date(),
      true,
    );
  } catch (cause) {
    throw _verifyError(cause, subject, keyId);
  }
}

function _verifyError(cause: unknown, subject: string, keyId: string): SignatureError {
  const text = _message(cause);
  if (/digest did not match|signature verification failed|verification failed/i.test(text)) {
    return new SignatureError(
      "digest-mismatch",
      `Cannot verify "${subject}": signed digest did not match (the document was altered or the signature belongs to another document; key "${keyId}")`,
      { keyId, cause },
    );
  }
  return new SignatureError(
    "invalid-signature",
    `Cannot verify "${subject}" with key "${keyId}": ${text}`,
    { keyId, cause },
  );
}

async function _verifiesWith(
  document: Uint8Array,
  signature: openpgp.Signature,
  armoredKey: string,
): Promise<boolean> {
  let key: openpgp.PublicKey;
  try {
    key = await _readKey(armoredKey, "official key", "official key");
  } catch {
    return false;
  }
  if (signature.getSigningKeyIDs().flatMap((id) => key.getKeys(id)).length === 0) return false;
  try {
    await _verify(document, signature, key, "official key", key.getKeyID().toHex());
    return true;
  } catch {
    return false;
  }
}

async function _verifyTrustSignature(
  offered: SignatureKey,
  partnersKey: string,
  subject: string,
  keyId: string,
): Promise<void> {
  try {
    const authorKeyBytes = (await openpgp.unarmor(offered.asciiArmor)).data;
    const trust = await openpgp.readSignature({ armoredSignature: offered.trustSignature! });
    const partners = await openpgp.readKey({ armoredKey: partnersKey });
    const message = await openpgp.createMessage({
      binary: authorKeyBytes instanceof Uint8Array
        ? authorKeyBytes
        : new Uint8Array(await new Response(authorKeyBytes).arrayBuffer()),
    });
    const result = await openpgp.verify({
      message,
      signature: trust,
      verificationKeys: partners,
      expectSigned: false,
    });
    if (result.signatures.length === 0) throw new Error("no signature packets");
    for (const s of result.signatures) await s.verified;
  } catch (cause) {
    throw new SignatureError(
      "trust-signature",
      `Cannot verify "${subject}": the trust signature of key "${keyId}" is not valid for the HashiCorp partners key: ${
        _message(cause)
      }`,
      { keyId, cause },
    );
  }
}

async function _expiry(
  key: openpgp.PublicKey,
  signingKey: openpgp.PublicKey | openpgp.Subkey,
): Promise<Date | undefined> {
  const primary = _date(await key.getExpirationTime());
  if (signingKey === key || !(signingKey instanceof openpgp.Subkey)) return primary;
  let sub: Date | undefined;
  try {
    sub = _date(await signingKey.getExpirationTime());
  } catch {
    sub = undefined;
  }
  if (primary === undefined) return sub;
  if (sub === undefined) return primary;
  return primary.getTime() < sub.getTime() ? primary : sub;
}

function _date(value: Date | number | null): Date | undefined {
  if (value instanceof Date) return value;
  return undefined; // Infinity (never expires) or null (no valid self-signature).
}

function _looksArmored(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
  return head.startsWith("-----BEGIN PGP");
}

function _keyIdOption(keyId: string | undefined): { keyId?: string } {
  return keyId === undefined ? {} : { keyId };
}

function _message(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

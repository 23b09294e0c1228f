/**
 * Authenticates a downloaded provider package against the registry's download metadata, the
 * SHA256SUMS document and its detached signature — every check is required:
 *
 * 1. the SHA256SUMS entry for the package `filename` equals the registry's `shasum`
 *    (in-memory; terraform's "matching checksum" step);
 * 2. SHA256SUMS verifies against the registry's signing keys (one OpenPGP verification; see
 *    `signature.ts` for the official / partner / community classification);
 * 3. the zip's SHA-256 equals `shasum` (one streaming pass over the file);
 * 4. the `h1:` of the zip is computed for the lock file (one decompressing pass).
 *
 * The order is cheapest first, so a bad document or signature is reported before the zip is
 * read. On success the result holds, as terraform records them in the lock file for a signed
 * package, the `zh:` of every line of SHA256SUMS (all platforms) plus this package's `h1:`.
 *
 * @module
 */

import { IntegrityError } from "./errors.ts";
import { HASH_SCHEME_ZIP, packageHashV1FromZip, sha256File } from "./hashes.ts";
import { parseSha256Sums } from "./sha256sums.ts";
import {
  type SignatureAuthentication,
  type SignatureKey,
  verifyChecksumsSignature,
} from "./signature.ts";

/** The download metadata fields the check needs (a `ProviderDownload` satisfies it). */
export interface PackageDownloadMeta {
  /** Package file name as listed in SHA256SUMS. */
  readonly filename: string;
  /** Hex SHA-256 of the package the registry announced. */
  readonly shasum: string;
  /** Keys that may have signed SHA256SUMS. */
  readonly signingKeys: { readonly gpgPublicKeys: readonly SignatureKey[] };
}

/** Input of {@linkcode authenticateProviderPackage}. */
export interface AuthenticateProviderPackageOptions {
  /** Path of the downloaded zip. */
  zipPath: string | URL;
  /** The registry's download metadata for this package. */
  download: PackageDownloadMeta;
  /** The raw SHA256SUMS bytes. */
  checksums: Uint8Array;
  /** The raw detached signature of SHA256SUMS (`undefined` when none could be fetched). */
  signature: Uint8Array | undefined;
  /** Name for messages, e.g. `registry.terraform.io/hashicorp/aws 5.31.0`. */
  subject?: string;
  /** Passed to the signature check: the key that makes a package official (default HashiCorp's). */
  officialKey?: string;
  /** Passed to the signature check: HashiCorp's partners key. */
  partnersKey?: string;
  /** Passed to the signature check: reject keys that expired after signing. */
  rejectExpiredKeys?: boolean;
  /** Passed to the signature check: "now" for expiry checks. */
  now?: Date;
}

/** What an authenticated package contributes to the lock file and the UI. */
export interface ProviderPackageAuthentication {
  /** `zh:` of every SHA256SUMS line (all platforms), in document order. */
  readonly zhHashes: readonly string[];
  /** `zh:` of this package. */
  readonly zh: string;
  /** `h1:` of this package (computed from the zip's entries). */
  readonly h1: string;
  /** Who signed SHA256SUMS. */
  readonly authentication: SignatureAuthentication;
}

/**
 * Checks a downloaded provider zip end to end (see the module doc for the order).
 *
 * @param options The zip, metadata, SHA256SUMS, signature and signature policy.
 * @returns The package's hashes and the signer.
 * @throws {IntegrityError} when SHA256SUMS lacks or disagrees with `shasum`, or the zip does not
 *   hash to `shasum`.
 * @throws {import("./errors.ts").ChecksumsFormatError} when SHA256SUMS is malformed.
 * @throws {import("./errors.ts").SignatureError} when the signature is missing or invalid.
 * @throws {import("./errors.ts").ZipFormatError} when the file is not a readable zip.
 */
export async function authenticateProviderPackage(
  options: AuthenticateProviderPackageOptions,
): Promise<ProviderPackageAuthentication> {
  const { download } = options;
  const subject = options.subject ?? download.filename;
  const expected = download.shasum.toLowerCase();
  const sums = parseSha256Sums(options.checksums, `SHA256SUMS of ${subject}`);

  const listed = sums.get(download.filename);
  if (listed === undefined) {
    throw new IntegrityError(
      download.filename,
      `zh:${expected}`,
      "(no entry)",
      "SHA256SUMS, which has no line for it",
    );
  }
  if (listed !== expected) {
    throw new IntegrityError(
      download.filename,
      `zh:${expected}`,
      `zh:${listed}`,
      `its SHA256SUMS entry (registry "shasum" vs SHA256SUMS)`,
    );
  }

  const authentication = await verifyChecksumsSignature({
    document: options.checksums,
    signature: options.signature,
    keys: download.signingKeys.gpgPublicKeys,
    subject: `SHA256SUMS of ${subject}`,
    ...(options.officialKey === undefined ? {} : { officialKey: options.officialKey }),
    ...(options.partnersKey === undefined ? {} : { partnersKey: options.partnersKey }),
    ...(options.rejectExpiredKeys === undefined
      ? {}
      : { rejectExpiredKeys: options.rejectExpiredKeys }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });

  const actual = await sha256File(options.zipPath);
  if (actual !== expected) {
    throw new IntegrityError(
      download.filename,
      `zh:${expected}`,
      `zh:${actual}`,
      `the registry "shasum"`,
    );
  }

  const h1 = await packageHashV1FromZip(options.zipPath);
  return { zhHashes: sums.zhHashes(), zh: HASH_SCHEME_ZIP + actual, h1, authentication };
}

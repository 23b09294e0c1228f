/**
 * The local cache's TLS identity and the trust bundle handed to terraform/tofu.
 *
 * Terraform and OpenTofu only accept `https:` network mirrors, so the cache serves HTTPS with a
 * self-signed ECDSA P-256 certificate for `127.0.0.1`, `::1` and `localhost`, stored under
 * `<cacheRoot>/tls/`. The child process trusts it through `SSL_CERT_FILE`, which Go reads as a
 * *replacement* for the default roots, so the bundle also carries the system roots and the user's
 * own `SSL_CERT_FILE`.
 *
 * The certificate is deliberately an end-entity certificate (`CA:FALSE`): Go accepts a root that
 * is the leaf itself, while rustls (Deno's `fetch`) rejects a CA certificate used as a leaf.
 *
 * @module
 */

import "npm:reflect-metadata@0.2.2";
import * as x509 from "npm:@peculiar/x509@2.2.0";
import { join } from "node:path";
import {
  readPemFile,
  readSystemCaBundle,
  realPathOr,
  SYSTEM_CA_BUNDLE_PATHS,
} from "./ca_bundle.ts";

x509.cryptoProvider.set(crypto);

/** Common name of the generated certificate. */
export const CERTIFICATE_COMMON_NAME = "tfcache local cache";

/** Validity of a freshly generated certificate (Apple rejects server certificates over 398 days). */
export const CERTIFICATE_VALIDITY_DAYS = 390;

/** A certificate with less remaining validity than this is regenerated. */
export const CERTIFICATE_RENEW_BEFORE_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;
const EC_ALGORITHM: EcKeyImportParams = { name: "ECDSA", namedCurve: "P-256" };

/** The cache's server certificate and key, as PEM, plus where they live. */
export interface ServerCertificate {
  /** PEM certificate (`-----BEGIN CERTIFICATE-----`). */
  certPem: string;
  /** PEM PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`). */
  keyPem: string;
  /** Path of `cert.pem`. */
  certPath: string;
  /** Path of `key.pem`. */
  keyPath: string;
  /** End of validity. */
  notAfter: Date;
  /** Whether this call generated the certificate (first run, expiry or damage). */
  generated: boolean;
}

/** Options for {@linkcode ensureServerCertificate}, mainly for tests. */
export interface EnsureCertificateOptions {
  /** Current time; defaults to `new Date()`. */
  now?: Date;
}

/**
 * Returns the cache's TLS certificate, generating it when missing, unparseable, not matching its
 * key, or expiring within {@linkcode CERTIFICATE_RENEW_BEFORE_DAYS} days.
 *
 * Files: `<cacheRoot>/tls/cert.pem` (0644) and `key.pem` (0600, PKCS#8); the directory is 0700.
 * Safe when several processes start at once: the check and the write happen under an exclusive
 * file lock, and every file is written to a temporary name and renamed into place.
 *
 * @param cacheRoot The cache root directory.
 * @param options Clock override.
 * @returns The certificate and key PEMs and their paths.
 *
 * @example
 * ```ts
 * const { certPem, keyPem } = await ensureServerCertificate("/home/me/.cache/tfcache");
 * ```
 */
export async function ensureServerCertificate(
  cacheRoot: string,
  options: EnsureCertificateOptions = {},
): Promise<ServerCertificate> {
  const dir = await ensureTlsDir(cacheRoot);
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  const now = options.now ?? new Date();

  using lockFile = await Deno.open(join(dir, ".lock"), {
    read: true,
    write: true,
    create: true,
    mode: 0o600,
  });
  await lockFile.lock(true);
  try {
    const existing = await _loadValid(certPath, keyPath, now);
    if (existing !== undefined) {
      return { ...existing, certPath, keyPath, generated: false };
    }
    const fresh = await generateServerCertificate(now);
    // Key first: a reader that sees the new certificate must also see the new key.
    await writeFileAtomic(keyPath, fresh.keyPem, 0o600);
    await writeFileAtomic(certPath, fresh.certPem, 0o644);
    return { ...fresh, certPath, keyPath, generated: true };
  } finally {
    await lockFile.unlock();
  }
}

/**
 * Generates a self-signed ECDSA P-256 server certificate for `127.0.0.1`, `::1` and `localhost`.
 *
 * @param now Start of validity (backdated by one hour for clock skew).
 * @returns PEM certificate, PEM PKCS#8 key and the end of validity.
 */
export async function generateServerCertificate(
  now: Date = new Date(),
): Promise<{ certPem: string; keyPem: string; notAfter: Date }> {
  const keys = await crypto.subtle.generateKey(EC_ALGORITHM, true, ["sign", "verify"]);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive INTEGER with no leading zero byte
  const notAfter = new Date(now.getTime() + CERTIFICATE_VALIDITY_DAYS * DAY_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toHex(),
    name: `CN=${CERTIFICATE_COMMON_NAME}`,
    notBefore: new Date(now.getTime() - 60 * 60 * 1000),
    notAfter,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: "ip", value: "127.0.0.1" },
        { type: "ip", value: "::1" },
        { type: "dns", value: "localhost" },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { certPem: `${cert.toString("pem")}\n`, keyPem: _pem("PRIVATE KEY", pkcs8), notAfter };
}

/**
 * Writes the trust bundle for the terraform/tofu child: the system roots (first existing of
 * {@linkcode SYSTEM_CA_BUNDLE_PATHS}), then the user's `SSL_CERT_FILE` when it is a different,
 * readable file, then the cache certificate. Written atomically to `<cacheRoot>/tls/bundle.pem`.
 *
 * A user `SSL_CERT_FILE` that already points at this bundle (a nested run) is not appended again.
 *
 * @param cacheRoot The cache root directory.
 * @param certPem The cache's certificate (from {@linkcode ensureServerCertificate}).
 * @param env Environment to read `SSL_CERT_FILE` from (usually `Deno.env.toObject()`).
 * @param systemBundlePaths Candidate system bundles, for tests.
 * @returns The bundle's path, to pass to the child as `SSL_CERT_FILE`.
 */
export async function writeTrustBundle(
  cacheRoot: string,
  certPem: string,
  env: Readonly<Record<string, string | undefined>>,
  systemBundlePaths: readonly string[] = SYSTEM_CA_BUNDLE_PATHS,
): Promise<string> {
  const dir = await ensureTlsDir(cacheRoot);
  const bundlePath = join(dir, "bundle.pem");
  const parts: string[] = [];
  const system = await readSystemCaBundle(systemBundlePaths);
  if (system !== undefined) parts.push(system.pem);

  const userFile = env.SSL_CERT_FILE;
  if (userFile !== undefined && userFile !== "") {
    const userReal = await realPathOr(userFile);
    const skip = new Set([await realPathOr(bundlePath)]);
    if (system !== undefined) skip.add(await realPathOr(system.path));
    if (!skip.has(userReal)) {
      const user = await readPemFile(userFile);
      if (user !== undefined) parts.push(user.pem);
    }
  }
  parts.push(certPem.endsWith("\n") ? certPem : `${certPem}\n`);
  await writeFileAtomic(bundlePath, parts.join("\n"), 0o644);
  return bundlePath;
}

/**
 * Writes a file via a unique temporary name in the same directory and a rename, so readers see
 * either the old or the new content, never a partial file.
 *
 * @param path Destination.
 * @param text Content.
 * @param mode File mode of the new file.
 */
export async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    {
      using file = await Deno.open(tmp, { write: true, createNew: true, mode });
      const bytes = new TextEncoder().encode(text);
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.syncData();
    }
    // The umask may have masked `mode`; make it exact (0600 for keys is the point).
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, mode);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

async function ensureTlsDir(cacheRoot: string): Promise<string> {
  const dir = join(cacheRoot, "tls");
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  if (Deno.build.os !== "windows") await Deno.chmod(dir, 0o700);
  return dir;
}

/** Loads cert+key when both parse, match each other and stay valid long enough. */
async function _loadValid(
  certPath: string,
  keyPath: string,
  now: Date,
): Promise<{ certPem: string; keyPem: string; notAfter: Date } | undefined> {
  let certPem: string;
  let keyPem: string;
  try {
    [certPem, keyPem] = await Promise.all([
      Deno.readTextFile(certPath),
      Deno.readTextFile(keyPath),
    ]);
  } catch {
    return undefined;
  }
  try {
    const cert = new x509.X509Certificate(certPem);
    const renewAt = cert.notAfter.getTime() - CERTIFICATE_RENEW_BEFORE_DAYS * DAY_MS;
    if (now.getTime() >= renewAt || now.getTime() < cert.notBefore.getTime()) return undefined;
    if (!(await _keyMatches(cert, keyPem))) return undefined;
    return { certPem, keyPem, notAfter: cert.notAfter };
  } catch {
    return undefined;
  }
}

async function _keyMatches(cert: x509.X509Certificate, keyPem: string): Promise<boolean> {
  const der = _unpem("PRIVATE KEY", keyPem);
  if (der === undefined) return false;
  const privateKey = await crypto.subtle.importKey("pkcs8", der, EC_ALGORITHM, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  const publicFromPrivate = await crypto.subtle.importKey(
    "jwk",
    { kty: "EC", crv: "P-256", x: jwk.x ?? "", y: jwk.y ?? "" },
    EC_ALGORITHM,
    true,
    ["verify"],
  );
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicFromPrivate));
  return spki.toHex() === new Uint8Array(cert.publicKey.rawData).toHex();
}

function _pem(label: string, der: Uint8Array): string {
  const lines = der.toBase64().match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function _unpem(label: string, pem: string): Uint8Array<ArrayBuffer> | undefined {
  const match = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(pem);
  if (match === null) return undefined;
  return Uint8Array.fromBase64(match[1]!.replace(/\s+/g, ""));
}

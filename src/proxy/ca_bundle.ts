/**
 * Locating and reading PEM certificate bundles: the system's root bundle and the user's
 * `SSL_CERT_FILE`. Shared by the upstream client (what tfcache trusts) and the trust bundle
 * written for the terraform/tofu child (what the child trusts).
 *
 * @module
 */

/**
 * Where Linux and BSD distributions keep the system root bundle, in the order Go's `crypto/x509`
 * probes them. The first existing file wins.
 */
export const SYSTEM_CA_BUNDLE_PATHS: readonly string[] = [
  "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Gentoo, Arch
  "/etc/pki/tls/certs/ca-bundle.crt", // Fedora, RHEL 6
  "/etc/ssl/ca-bundle.pem", // openSUSE
  "/etc/pki/tls/cacert.pem", // OpenELEC
  "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
  "/etc/ssl/cert.pem", // Alpine, macOS, BSDs
];

/** A PEM bundle read from disk. */
export interface PemBundle {
  /** Path the bundle was read from. */
  path: string;
  /** The bundle's text, normalised to end with a newline. */
  pem: string;
}

/**
 * Reads the first existing, non-empty system root bundle.
 *
 * @param candidates Paths to probe, in order; defaults to {@linkcode SYSTEM_CA_BUNDLE_PATHS}.
 * @returns The bundle, or `undefined` when none of the candidates is readable.
 */
export async function readSystemCaBundle(
  candidates: readonly string[] = SYSTEM_CA_BUNDLE_PATHS,
): Promise<PemBundle | undefined> {
  for (const path of candidates) {
    const bundle = await readPemFile(path);
    if (bundle !== undefined) return bundle;
  }
  return undefined;
}

/**
 * Reads a PEM file that should hold at least one certificate.
 *
 * @param path File to read.
 * @returns The bundle, or `undefined` when the file is missing, unreadable or holds no certificate.
 */
export async function readPemFile(path: string): Promise<PemBundle | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) return undefined;
  return { path, pem: text.endsWith("\n") ? text : `${text}\n` };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Splits a PEM bundle into its certificate blocks, dropping comments and other block types.
 *
 * @param pem Bundle text.
 * @returns One PEM string per certificate, each ending with a newline.
 */
export function splitPemCertificates(pem: string): string[] {
  return Array.from(pem.matchAll(PEM_CERTIFICATE), (m) => `${m[0]}\n`);
}

/**
 * Resolves a path through symlinks, for "is this the same file" checks.
 *
 * @param path Path to resolve.
 * @returns The real path, or the path itself when it cannot be resolved.
 */
export async function realPathOr(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch {
    return path;
  }
}

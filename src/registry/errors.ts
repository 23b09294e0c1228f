/**
 * Typed errors raised by `src/registry/`: service discovery, the provider registry client,
 * SHA256SUMS parsing, signature checks and package hashing.
 *
 * Callers branch on the class (`instanceof`), never on the message text. Everything a caller
 * may need to answer a client (status, URL, key id, digests) is a readonly field.
 *
 * @module
 */

/** The discovery host could not be reached (DNS, connect, TLS, timeout, or a broken body). */
export class HostUnreachableError extends Error {
  /** Normalised hostname (with `:port` when not 443). */
  readonly host: string;
  /** The URL that failed. */
  readonly url: string;

  /**
   * @param host Normalised hostname.
   * @param url The URL that failed.
   * @param options The underlying `cause`.
   */
  constructor(host: string, url: string, options: { cause?: unknown } = {}) {
    super(`Cannot connect to "${host}" for service discovery: ${_causeText(options.cause)}`, {
      cause: options.cause,
    });
    this.name = "HostUnreachableError";
    this.host = host;
    this.url = url;
  }
}

/** The host answered, but does not offer the requested service (e.g. `providers.v1`). */
export class ServiceNotOfferedError extends Error {
  /** Normalised hostname. */
  readonly host: string;
  /** The service id that was asked for, e.g. `providers.v1`. */
  readonly service: string;
  /** True when the host offers another version of the same service (e.g. `providers.v2`). */
  readonly hasOtherVersion: boolean;

  /**
   * @param host Normalised hostname.
   * @param service The service id that was asked for.
   * @param hasOtherVersion Whether another version of the service is offered.
   */
  constructor(host: string, service: string, hasOtherVersion: boolean) {
    super(
      hasOtherVersion
        ? `Host "${host}" does not offer "${service}" but offers another version of it; this client supports only "${service}"`
        : `Host "${host}" does not offer "${service}"`,
    );
    this.name = "ServiceNotOfferedError";
    this.host = host;
    this.service = service;
    this.hasOtherVersion = hasOtherVersion;
  }
}

/** The discovery document is unusable: bad status, content type, size, JSON, or service URL. */
export class DiscoveryDocumentError extends Error {
  /** Normalised hostname. */
  readonly host: string;
  /** URL of the discovery document. */
  readonly url: string;
  /** HTTP status of the answer, when the problem is the status. */
  readonly status: number | undefined;

  /**
   * @param host Normalised hostname.
   * @param url URL of the discovery document.
   * @param problem What is wrong with it.
   * @param options HTTP `status` and the underlying `cause`.
   */
  constructor(
    host: string,
    url: string,
    problem: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(`Invalid service discovery document "${url}" for "${host}": ${problem}`, {
      cause: options.cause,
    });
    this.name = "DiscoveryDocumentError";
    this.host = host;
    this.url = url;
    this.status = options.status;
  }
}

/**
 * Base of the registry's "does not exist" answers. A network mirror maps every subclass to an
 * HTTP 404 towards terraform.
 */
export class RegistryNotFoundError extends Error {
  /** `host/namespace/type` of the provider. */
  readonly provider: string;
  /** The registry URL that answered 404. */
  readonly url: string;

  /**
   * @param provider `host/namespace/type`.
   * @param url The URL that answered 404.
   * @param message The full message.
   */
  constructor(provider: string, url: string, message: string) {
    super(message);
    this.name = "RegistryNotFoundError";
    this.provider = provider;
    this.url = url;
  }
}

/** The registry does not know the provider at all. */
export class ProviderNotFoundError extends RegistryNotFoundError {
  /**
   * @param provider `host/namespace/type`.
   * @param url The URL that answered 404.
   */
  constructor(provider: string, url: string) {
    super(provider, url, `Provider registry has no provider named "${provider}" ("${url}")`);
    this.name = "ProviderNotFoundError";
  }
}

/** The provider exists but the registry does not list the requested version. */
export class VersionNotFoundError extends RegistryNotFoundError {
  /** The requested version. */
  readonly version: string;

  /**
   * @param provider `host/namespace/type`.
   * @param version The requested version.
   * @param url The URL that answered 404.
   */
  constructor(provider: string, version: string, url: string) {
    super(provider, url, `Provider "${provider}" has no version "${version}" ("${url}")`);
    this.name = "VersionNotFoundError";
    this.version = version;
  }
}

/** The version exists but has no package for the requested platform. */
export class PlatformNotAvailableError extends RegistryNotFoundError {
  /** The requested version. */
  readonly version: string;
  /** The requested platform, `os_arch`. */
  readonly platform: string;

  /**
   * @param provider `host/namespace/type`.
   * @param version The requested version.
   * @param platform The requested platform, `os_arch`.
   * @param url The URL that answered 404.
   */
  constructor(provider: string, version: string, platform: string, url: string) {
    super(
      provider,
      url,
      `Provider "${provider}" "${version}" is not available for "${platform}" ("${url}")`,
    );
    this.name = "PlatformNotAvailableError";
    this.version = version;
    this.platform = platform;
  }
}

/** The registry answered with a non-2xx status other than 404 (401/403 included). */
export class RegistryStatusError extends Error {
  /** Upstream HTTP status. */
  readonly status: number;
  /** The URL that answered. */
  readonly url: string;

  /**
   * @param status Upstream HTTP status.
   * @param url The URL that answered.
   */
  constructor(status: number, url: string) {
    const hint = status === 401 || status === 403
      ? " (check the credentials configured for this host)"
      : "";
    super(`Registry answered ${status} for "${url}"${hint}`);
    this.name = "RegistryStatusError";
    this.status = status;
    this.url = url;
  }
}

/** The registry could not be reached for a registry API call. */
export class RegistryUnreachableError extends Error {
  /** The URL that failed. */
  readonly url: string;

  /**
   * @param url The URL that failed.
   * @param options The underlying `cause`.
   */
  constructor(url: string, options: { cause?: unknown } = {}) {
    super(`Cannot fetch "${url}": ${_causeText(options.cause)}`, { cause: options.cause });
    this.name = "RegistryUnreachableError";
    this.url = url;
  }
}

/** A registry answer is not valid JSON, is too large, or lacks / mistypes a required field. */
export class RegistryResponseError extends Error {
  /** The URL whose answer is malformed. */
  readonly url: string;
  /** JSON path of the offending field (e.g. `versions[3].version`), or `""` for the document. */
  readonly field: string;

  /**
   * @param url The URL whose answer is malformed.
   * @param field JSON path of the offending field, `""` for the whole document.
   * @param problem What is wrong.
   * @param options The underlying `cause`.
   */
  constructor(url: string, field: string, problem: string, options: { cause?: unknown } = {}) {
    super(
      field === ""
        ? `Invalid registry response from "${url}": ${problem}`
        : `Invalid registry response from "${url}": field "${field}" ${problem}`,
      { cause: options.cause },
    );
    this.name = "RegistryResponseError";
    this.url = url;
    this.field = field;
  }
}

/** A SHA256SUMS document has a malformed line, or conflicting entries for one file. */
export class ChecksumsFormatError extends Error {
  /** Name of the document in messages (e.g. its URL or filename). */
  readonly source: string;
  /** 1-based line number of the offending line. */
  readonly line: number;

  /**
   * @param source Name of the document.
   * @param line 1-based line number.
   * @param problem What is wrong with the line.
   */
  constructor(source: string, line: number, problem: string) {
    super(`Line ${line} of "${source}" ${problem}`);
    this.name = "ChecksumsFormatError";
    this.source = source;
    this.line = line;
  }
}

/** Why a {@linkcode SignatureError} was raised. */
export type SignatureErrorReason =
  | "missing-signature"
  | "no-keys"
  | "invalid-key"
  | "invalid-signature"
  | "unknown-key"
  | "digest-mismatch"
  | "expired-key"
  | "trust-signature";

/** The detached OpenPGP signature over SHA256SUMS cannot be accepted. */
export class SignatureError extends Error {
  /** Machine-readable reason. */
  readonly reason: SignatureErrorReason;
  /** The key id involved (16 hex, upper-case), when one is known. */
  readonly keyId: string | undefined;

  /**
   * @param reason Machine-readable reason.
   * @param message The full message.
   * @param options The `keyId` involved and the underlying `cause`.
   */
  constructor(
    reason: SignatureErrorReason,
    message: string,
    options: { keyId?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "SignatureError";
    this.reason = reason;
    this.keyId = options.keyId;
  }
}

/** A file's digest does not match the digest it must have. */
export class IntegrityError extends Error {
  /** The file (path or package filename) that was checked. */
  readonly file: string;
  /** Expected digest, e.g. `zh:…`. */
  readonly expected: string;
  /** Actual digest, e.g. `zh:…`. */
  readonly actual: string;

  /**
   * @param file The file that was checked.
   * @param expected Expected digest.
   * @param actual Actual digest.
   * @param what Which check failed, e.g. `registry "shasum"`.
   */
  constructor(file: string, expected: string, actual: string, what: string) {
    super(`Checksum of "${file}" does not match ${what}: expected "${expected}", got "${actual}"`);
    this.name = "IntegrityError";
    this.file = file;
    this.expected = expected;
    this.actual = actual;
  }
}

/** A hash string is malformed, or its scheme cannot be used for the package at hand. */
export class HashFormatError extends TypeError {
  /** The offending hash string. */
  readonly hash: string;

  /**
   * @param hash The offending hash string.
   * @param problem What is wrong with it.
   */
  constructor(hash: string, problem: string) {
    super(`Invalid hash "${hash}": ${problem}`);
    this.name = "HashFormatError";
    this.hash = hash;
  }
}

/** A file that should be a zip archive cannot be read as one. */
export class ZipFormatError extends Error {
  /** Path of the file. */
  readonly path: string;

  /**
   * @param path Path of the file.
   * @param problem What is wrong.
   * @param options The underlying `cause`.
   */
  constructor(path: string, problem: string, options: { cause?: unknown } = {}) {
    super(`File "${path}" is not a valid zip archive: ${problem}`, { cause: options.cause });
    this.name = "ZipFormatError";
    this.path = path;
  }
}

function _causeText(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  return cause === undefined ? "unknown error" : String(cause);
}

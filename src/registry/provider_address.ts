/**
 * Provider addresses (`[hostname/][namespace/]type`) with Terraform's parsing,
 * normalisation and display rules.
 *
 * @module
 */

import { domainToASCII, domainToUnicode } from "node:url";

/** The default provider registry host (Terraform's; OpenTofu uses `registry.opentofu.org`). */
export const DEFAULT_REGISTRY_HOST = "registry.terraform.io";
/** The pseudo-host of built-in providers (`terraform.io/builtin/terraform`). */
export const BUILTIN_PROVIDER_HOST = "terraform.io";
/** The namespace of built-in providers. */
export const BUILTIN_NAMESPACE = "builtin";
/** The legacy (pre-0.13) namespace, valid only on the default host. */
export const LEGACY_NAMESPACE = "-";
/** The namespace implied for a source string that gives only a type. */
export const DEFAULT_NAMESPACE = "hashicorp";

/**
 * A fully-qualified provider address. `hostname` is the normalised comparison form
 * (lower-case ASCII, punycode for IDNs, `:port` kept unless 443); `namespace` and `type`
 * are lower-cased and NFC-normalised.
 */
export interface ProviderAddress {
  /** Normalised registry hostname, e.g. `registry.terraform.io` or `localhost:8080`. */
  readonly hostname: string;
  /** Namespace, e.g. `hashicorp` (or `-` for legacy, `builtin` for built-ins). */
  readonly namespace: string;
  /** Provider type, e.g. `aws`. */
  readonly type: string;
}

/** A provider source string (or hostname, or part) that Terraform would reject. */
export class InvalidProviderAddressError extends TypeError {
  /** Short diagnostic summary, e.g. `Invalid provider source string`. */
  readonly summary: string;
  /** Longer, actionable explanation. */
  readonly detail: string;

  /**
   * @param summary Short diagnostic summary (Terraform's wording).
   * @param detail Longer explanation (Terraform's wording).
   */
  constructor(summary: string, detail: string) {
    super(`${summary}: ${detail}`);
    this.name = "InvalidProviderAddressError";
    this.summary = summary;
    this.detail = detail;
  }
}

/** A hostname that `normalizeHostname` cannot accept. */
export class InvalidHostnameError extends TypeError {
  /**
   * @param message What is wrong with the hostname (svchost's wording).
   */
  constructor(message: string) {
    super(message);
    this.name = "InvalidHostnameError";
  }
}

/** A namespace or type that `parseProviderPart` cannot accept. */
export class InvalidProviderPartError extends TypeError {
  /**
   * @param message What is wrong with the part (Terraform's wording).
   */
  constructor(message: string) {
    super(message);
    this.name = "InvalidProviderPartError";
  }
}

const _PART_CHAR = /^[\p{L}\p{M}\p{N}-]$/u;

/**
 * Validate and normalise a namespace or type: letters, digits and dashes, no leading or
 * trailing dash, no `--`, no dots. Returns the lower-cased NFC form.
 *
 * @param given The raw part.
 * @returns The normalised part.
 * @throws {InvalidProviderPartError} when the part is not valid.
 * @example
 * ```ts
 * parseProviderPart("HashiCorp"); // "hashicorp"
 * ```
 */
export function parseProviderPart(given: string): string {
  if (given.length === 0) {
    throw new InvalidProviderPartError("must have at least one character");
  }
  if (given.includes(".")) throw new InvalidProviderPartError("dots are not allowed");
  if (given.includes("--")) {
    throw new InvalidProviderPartError("cannot use multiple consecutive dashes");
  }
  const norm = given.normalize("NFC").toLowerCase().normalize("NFC");
  const bad = () =>
    new InvalidProviderPartError(
      "must contain only letters, digits, and dashes, and may not use leading or trailing dashes",
    );
  if (norm.startsWith("-") || norm.endsWith("-")) throw bad();
  for (const ch of norm) {
    if (!_PART_CHAR.test(ch)) throw bad();
  }
  return norm;
}

const _ASCII_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/**
 * Normalise a service hostname for comparison (svchost `ForComparison`): lower-case
 * ASCII (IDNA ToASCII), with `:port` kept unless it is `:443`.
 *
 * @param given A hostname in Unicode form, optionally with `:port`.
 * @returns The normalised hostname.
 * @throws {InvalidHostnameError} when the hostname is not valid.
 * @example
 * ```ts
 * normalizeHostname("Example.COM:443"); // "example.com"
 * ```
 */
export function normalizeHostname(given: string): string {
  let host = given;
  let port = "";
  const colon = given.indexOf(":");
  if (colon >= 0) {
    host = given.slice(0, colon);
    port = given.slice(colon + 1);
    if (!/^[0-9]+$/.test(port)) {
      throw new InvalidHostnameError("port portion contains non-digit characters");
    }
    const n = Number.parseInt(port, 10);
    if (n > 65535) throw new InvalidHostnameError(`port number ${port} is out of range`);
    port = n === 443 ? "" : String(n);
  }
  const lower = host.toLowerCase();
  if (lower === "http" || lower === "https") {
    throw new InvalidHostnameError(
      "need just a hostname and optional port number, not a full URL",
    );
  }
  if (host === "") throw new InvalidHostnameError("empty string is not a valid hostname");
  const labels = host.split(".");
  for (const label of labels) {
    if (label === "") {
      throw new InvalidHostnameError("hostname contains empty label (two consecutive periods)");
    }
    if (label.toLowerCase().startsWith("xn--")) {
      throw new InvalidHostnameError(
        `hostname label "${label}" specified in punycode format; service hostnames must be given in unicode`,
      );
    }
  }
  const ascii = domainToASCII(host.normalize("NFC"));
  const asciiLabels = ascii.split(".");
  const ok = ascii !== "" && asciiLabels.length === labels.length &&
    asciiLabels.every((l) =>
      _ASCII_LABEL.test(l) && (l.startsWith("xn--") || l.slice(2, 4) !== "--")
    );
  if (!ok) {
    throw new InvalidHostnameError(
      `hostname "${host}" is not valid: labels must contain only letters, digits, and dashes, and may not use leading or trailing dashes`,
    );
  }
  return port === "" ? ascii : `${ascii}:${port}`;
}

/**
 * The display (Unicode) form of a normalised hostname, `:port` kept.
 *
 * @param hostname A hostname as returned by {@link normalizeHostname}.
 * @returns The Unicode form, e.g. `münchen.de:8443`.
 */
export function hostnameForDisplay(hostname: string): string {
  const colon = hostname.indexOf(":");
  const host = colon >= 0 ? hostname.slice(0, colon) : hostname;
  const port = colon >= 0 ? hostname.slice(colon) : "";
  if (!host.split(".").some((l) => l.startsWith("xn--"))) return hostname;
  const uni = domainToUnicode(host);
  return (uni === "" ? host : uni) + port;
}

function _err(summary: string, detail: string): InvalidProviderAddressError {
  return new InvalidProviderAddressError(summary, detail);
}

/**
 * Parse a provider source string (`source = "…"` or a lock-file label) by Terraform's
 * rules: 1–3 `/`-separated parts, default host {@link DEFAULT_REGISTRY_HOST}, default
 * namespace `hashicorp`, case folding, legacy `-` namespace only on the default host.
 *
 * @param str The source string.
 * @returns The normalised address.
 * @throws {InvalidProviderAddressError} with Terraform's summary and detail.
 * @example
 * ```ts
 * parseProviderSource("HashiCorp/AWS"); // { hostname: "registry.terraform.io", namespace: "hashicorp", type: "aws" }
 * ```
 */
export function parseProviderSource(str: string): ProviderAddress {
  const parts = str.split("/");
  if (parts.length < 1 || parts.length > 3 || parts.some((p) => p === "")) {
    throw _err(
      "Invalid provider source string",
      `The "source" attribute must be in the format "[hostname/][namespace/]name"`,
    );
  }
  const givenType = parts[parts.length - 1] as string;
  let type: string;
  try {
    type = parseProviderPart(givenType);
  } catch (e) {
    throw _err(
      "Invalid provider type",
      `Invalid provider type "${givenType}" in source "${str}": ${(e as Error).message}`,
    );
  }
  let namespace = DEFAULT_NAMESPACE;
  if (parts.length >= 2) {
    const givenNs = parts[parts.length - 2] as string;
    if (givenNs === LEGACY_NAMESPACE) {
      namespace = LEGACY_NAMESPACE;
    } else {
      try {
        namespace = parseProviderPart(givenNs);
      } catch (e) {
        throw _err(
          "Invalid provider namespace",
          `Invalid provider namespace "${givenNs}" in source "${str}": ${(e as Error).message}`,
        );
      }
    }
  }
  let hostname = DEFAULT_REGISTRY_HOST;
  if (parts.length === 3) {
    const givenHost = parts[0] as string;
    try {
      hostname = normalizeHostname(givenHost);
    } catch (e) {
      throw _err(
        "Invalid provider source hostname",
        `Invalid provider source hostname "${givenHost}" in source "${str}": ${
          (e as Error).message
        }`,
      );
    }
  }
  if (namespace === LEGACY_NAMESPACE && hostname !== DEFAULT_REGISTRY_HOST) {
    throw _err(
      "Invalid provider namespace",
      `The legacy provider namespace "-" can be used only with hostname ${DEFAULT_REGISTRY_HOST}.`,
    );
  }
  const addr: ProviderAddress = { hostname, namespace, type };
  if (type.startsWith("terraform-provider-")) {
    const suggested = type.slice("terraform-provider-".length);
    let suggestionOk = true;
    try {
      parseProviderPart(suggested);
    } catch {
      suggestionOk = false;
    }
    if (suggestionOk) {
      throw _err(
        "Invalid provider type",
        `Provider source "${forDisplay(addr)}" has a type with the prefix "terraform-provider-", ` +
          `which isn't valid. Although that prefix is often used in the names of version control ` +
          `repositories for Terraform providers, provider source strings should not include it.` +
          `\n\nDid you mean "${forDisplay({ ...addr, type: suggested })}"?`,
      );
    }
  }
  if (type.startsWith("terraform-")) {
    throw _err(
      "Invalid provider type",
      `Provider source "${forDisplay(addr)}" has a type with the prefix "terraform-", which ` +
        `isn't allowed because it would be redundant to name a Terraform provider with that ` +
        `prefix. If you are the author of this provider, rename it to not include the prefix.`,
    );
  }
  return addr;
}

/**
 * The provider implied by a bare type in configuration without `required_providers`:
 * `terraform` is the built-in provider, anything else is `hashicorp/<type>`.
 *
 * @param type A provider type (already valid).
 * @returns The implied address.
 */
export function impliedProviderForUnqualifiedType(type: string): ProviderAddress {
  return type === "terraform" ? newBuiltInProvider(type) : newDefaultProvider(type);
}

/**
 * @param type Provider type.
 * @returns `registry.terraform.io/hashicorp/<type>`.
 */
export function newDefaultProvider(type: string): ProviderAddress {
  return { hostname: DEFAULT_REGISTRY_HOST, namespace: DEFAULT_NAMESPACE, type };
}

/**
 * @param type Provider type.
 * @returns `terraform.io/builtin/<type>`.
 */
export function newBuiltInProvider(type: string): ProviderAddress {
  return { hostname: BUILTIN_PROVIDER_HOST, namespace: BUILTIN_NAMESPACE, type };
}

/**
 * @param type Provider type (passed through unvalidated, as Terraform does).
 * @returns `registry.terraform.io/-/<type>`.
 */
export function newLegacyProvider(type: string): ProviderAddress {
  return { hostname: DEFAULT_REGISTRY_HOST, namespace: LEGACY_NAMESPACE, type };
}

/**
 * The fully-qualified string form `host/namespace/type` (host in display form), as used in
 * lock-file labels and cache paths.
 *
 * @param addr The address.
 * @returns e.g. `registry.terraform.io/hashicorp/aws`.
 */
export function providerAddressString(addr: ProviderAddress): string {
  return `${hostnameForDisplay(addr.hostname)}/${addr.namespace}/${addr.type}`;
}

/**
 * The short display form: the host is omitted when it is the default registry.
 *
 * @param addr The address.
 * @returns e.g. `hashicorp/aws` or `example.com/foo/bar`.
 */
export function forDisplay(addr: ProviderAddress): string {
  if (addr.hostname === DEFAULT_REGISTRY_HOST) return `${addr.namespace}/${addr.type}`;
  return providerAddressString(addr);
}

/**
 * Structural equality.
 *
 * @param a First address.
 * @param b Second address.
 * @returns Whether all three components are equal.
 */
export function providerAddressEquals(a: ProviderAddress, b: ProviderAddress): boolean {
  return a.hostname === b.hostname && a.namespace === b.namespace && a.type === b.type;
}

function _cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Total order: hostname (normalised ASCII form), then namespace, then type.
 *
 * @param a First address.
 * @param b Second address.
 * @returns Negative, zero or positive, for use with `Array.prototype.sort`.
 */
export function compareProviderAddresses(a: ProviderAddress, b: ProviderAddress): number {
  return _cmp(a.hostname, b.hostname) || _cmp(a.namespace, b.namespace) || _cmp(a.type, b.type);
}

/**
 * @param addr The address.
 * @returns Whether it is a built-in provider (`terraform.io/builtin/*`).
 */
export function isBuiltIn(addr: ProviderAddress): boolean {
  return addr.hostname === BUILTIN_PROVIDER_HOST && addr.namespace === BUILTIN_NAMESPACE;
}

/**
 * @param addr The address.
 * @returns Whether it is a legacy provider (`registry.terraform.io/-/*`).
 */
export function isLegacy(addr: ProviderAddress): boolean {
  return addr.hostname === DEFAULT_REGISTRY_HOST && addr.namespace === LEGACY_NAMESPACE;
}

/**
 * @param addr The address.
 * @returns Whether it is an official provider (`registry.terraform.io/hashicorp/*`).
 */
export function isDefaultProvider(addr: ProviderAddress): boolean {
  return addr.hostname === DEFAULT_REGISTRY_HOST && addr.namespace === DEFAULT_NAMESPACE;
}

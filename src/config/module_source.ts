/**
 * Classify a module call's `source` string as Terraform does (`addrs.ParseModuleSource`):
 * a local path, a module registry address, or anything else (a go-getter remote address).
 *
 * @module
 */

import { DEFAULT_REGISTRY_HOST, normalizeHostname } from "../registry/provider_address.ts";

/** A local module path (`./…` or `../…`), resolved relative to the calling module. */
export interface LocalModuleSource {
  /** Discriminant. */
  readonly kind: "local";
  /** The path as written. */
  readonly path: string;
}

/** A module registry address, `[host/]namespace/name/system[//subdir]`. */
export interface RegistryModuleSource {
  /** Discriminant. */
  readonly kind: "registry";
  /** Normalised registry hostname (default `registry.terraform.io`). */
  readonly hostname: string;
  /** Namespace, as written. */
  readonly namespace: string;
  /** Module name, as written. */
  readonly name: string;
  /** Target system (a provider type such as `aws`), as written. */
  readonly targetSystem: string;
  /** Sub-directory inside the package after `//`, or `""`. */
  readonly subdir: string;
}

/** Any other source (git, http, s3, GitHub shorthand, …), fetched by go-getter. */
export interface RemoteModuleSource {
  /** Discriminant. */
  readonly kind: "remote";
  /** The source as written. */
  readonly address: string;
}

/** A classified module source. */
export type ModuleSource = LocalModuleSource | RegistryModuleSource | RemoteModuleSource;

const _NAME = /^[0-9A-Za-z](?:[0-9A-Za-z_-]{0,62}[0-9A-Za-z])?$/;
const _TARGET_SYSTEM = /^[0-9a-z]{1,64}$/;
const _LOCAL_PREFIXES = ["./", "../", ".\\", "..\\"];

/**
 * Whether a module source is a local path: it starts with `./` or `../` (or the Windows
 * backslash forms), exactly Terraform's test.
 *
 * @param raw The `source` string.
 * @returns `true` for local paths.
 * @example Usage
 * ```ts
 * import { isLocalModuleSource } from "./module_source.ts";
 * isLocalModuleSource("./modules/vpc"); // true
 * isLocalModuleSource("hashicorp/consul/aws"); // false
 * ```
 */
export function isLocalModuleSource(raw: string): boolean {
  return _LOCAL_PREFIXES.some((p) => raw.startsWith(p));
}

/** go-getter `SourceDirSubdir`: split `addr//subdir`, ignoring the `//` of a scheme. */
function _splitSubdir(raw: string): { addr: string; subdir: string } {
  const scheme = raw.indexOf("://");
  const from = scheme < 0 ? 0 : scheme + 3;
  const idx = raw.indexOf("//", from);
  if (idx < 0) return { addr: raw, subdir: "" };
  return { addr: raw.slice(0, idx), subdir: raw.slice(idx + 2) };
}

function _parseRegistry(raw: string): RegistryModuleSource | undefined {
  const { addr, subdir } = _splitSubdir(raw);
  if (subdir.startsWith("../")) return undefined;
  const parts = addr.split("/");
  if (parts.length !== 3 && parts.length !== 4) return undefined;
  let hostname = DEFAULT_REGISTRY_HOST;
  if (parts.length === 4) {
    try {
      hostname = normalizeHostname(parts.shift() as string);
    } catch {
      return undefined;
    }
    if (hostname === "github.com" || hostname === "bitbucket.org") return undefined;
  }
  const [namespace, name, targetSystem] = parts as [string, string, string];
  if (!_NAME.test(namespace) || !_NAME.test(name) || !_TARGET_SYSTEM.test(targetSystem)) {
    return undefined;
  }
  return { kind: "registry", hostname, namespace, name, targetSystem, subdir };
}

/**
 * Classify a module `source` string. As in Terraform, a string is a registry address only
 * when it parses as one; everything else that is not local is a go-getter remote address.
 *
 * @param raw The `source` string.
 * @returns The classified source.
 * @example Usage
 * ```ts
 * import { parseModuleSource } from "./module_source.ts";
 * parseModuleSource("app.terraform.io/acme/vpc/aws"); // kind "registry", hostname "app.terraform.io"
 * parseModuleSource("terraform-aws-modules/vpc/aws"); // kind "registry", hostname "registry.terraform.io"
 * parseModuleSource("github.com/acme/vpc"); // kind "remote"
 * parseModuleSource("../shared"); // kind "local"
 * ```
 */
export function parseModuleSource(raw: string): ModuleSource {
  if (isLocalModuleSource(raw)) return { kind: "local", path: raw };
  return _parseRegistry(raw) ?? { kind: "remote", address: raw };
}

/**
 * Gather the provider requirements of a whole configuration: the root module, the local
 * child modules it calls (recursively), and optionally remote modules that `terraform init`
 * already installed, so that callers can intersect constraints per provider and say where
 * each constraint came from.
 *
 * @module
 */

import { isAbsolute, join, normalize, relative, sep } from "node:path";
import {
  isBuiltIn,
  parseProviderSource,
  type ProviderAddress,
  providerAddressString,
} from "../registry/provider_address.ts";
import {
  constraintsString,
  parseVersionConstraints,
  type VersionConstraint,
} from "../registry/version_constraints.ts";
import type { ConfigFlavor } from "./config_files.ts";
import { ModuleNotFoundError } from "./errors.ts";
import { isJsonObject } from "./_json_body.ts";
import {
  type ConfigPosition,
  type ModuleRequirements,
  readModuleRequirements,
} from "./module_requirements.ts";
import { parseModuleSource, type RegistryModuleSource } from "./module_source.ts";

/** One module's say on one provider. */
export interface ProviderConstraintSource {
  /** The constraint string as written; `""` when the module sets none. */
  readonly constraints: string;
  /** Where it was written: `path/file:line`, the path relative to the root module. */
  readonly from: string;
  /** The module's address: `""` for the root, else e.g. `module.vpc.module.subnets`. */
  readonly module: string;
}

/** How a module was found. */
export type ConfigModuleKind = "root" | "local" | "installed";

/** One module that was read. */
export interface ConfigModule {
  /** The module's address: `""` for the root, else e.g. `module.vpc`. */
  readonly address: string;
  /** The directory, relative to the root module (`"."` for the root), `/`-separated. */
  readonly path: string;
  /** How the module was found. */
  readonly kind: ConfigModuleKind;
  /** What the module requires. */
  readonly requirements: ModuleRequirements;
}

/** A module call whose source is not a local path (registry or go-getter address). */
export interface RemoteModuleCall {
  /** Address of the calling module (`""` for the root). */
  readonly caller: string;
  /** The call name. */
  readonly name: string;
  /** The `source` string as written. */
  readonly source: string;
  /** The `version` constraint, when given. */
  readonly version: string | undefined;
  /** The parsed registry address, when the source is a registry address. */
  readonly registry: RegistryModuleSource | undefined;
  /** Where the call is (`path/file:line`). */
  readonly from: string;
  /** Where `terraform init` installed it (relative to the root), when known and present. */
  readonly installedPath: string | undefined;
}

/** Everything {@link readConfigRequirements} learns about a configuration. */
export interface ConfigRequirements {
  /** The root module directory, as given. */
  readonly rootDir: string;
  /**
   * Per provider, keyed by the fully-qualified display string (`host/namespace/type`,
   * e.g. `registry.terraform.io/hashicorp/aws`), every module's constraints, in walk order.
   * Each module that needs a provider contributes at least one entry (with `""` when it
   * sets no constraint). Built-in providers (`terraform.io/builtin/…`) are included.
   */
  readonly providers: ReadonlyMap<string, readonly ProviderConstraintSource[]>;
  /**
   * Registry hosts seen, in normalised form (lower-case ASCII, `:port` kept unless 443):
   * hosts of non-built-in providers and of registry-style module sources.
   */
  readonly hosts: ReadonlySet<string>;
  /** The modules read, root first, depth-first in call order. */
  readonly modules: readonly ConfigModule[];
  /** Module calls with non-local sources, in walk order. */
  readonly remoteModuleCalls: readonly RemoteModuleCall[];
}

/** Options for {@link readConfigRequirements}. */
export interface ReadConfigOptions {
  /** Which tool's file rules to apply; default `"terraform"`. */
  readonly flavor?: ConfigFlavor;
  /**
   * Also read remote modules already installed by `init`, found through
   * `<dataDir>/modules/modules.json`; default `true`. Missing manifest or directories are
   * skipped silently.
   */
  readonly installedModules?: boolean;
  /** The data directory, relative to the root (or absolute); default `".terraform"`. */
  readonly dataDir?: string;
}

/** An absolute, normalised path, without `node:path`'s `process.cwd()` (which some npm
 * packages patch to cache the first value). */
function _abs(p: string): string {
  return normalize(isAbsolute(p) ? p : join(Deno.cwd(), p));
}

function _posix(p: string): string {
  return sep === "/" ? p : p.split(sep).join("/");
}

function _from(modulePath: string, pos: ConfigPosition): string {
  const file = modulePath === "." ? pos.file : `${modulePath}/${pos.file}`;
  return pos.line === undefined ? file : `${file}:${pos.line}`;
}

async function _readManifest(rootDir: string, dataDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const path = join(
    isAbsolute(dataDir) ? dataDir : join(rootDir, dataDir),
    "modules",
    "modules.json",
  );
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return out;
    throw e;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return out; // a damaged manifest only loses the optional installed-module walk
  }
  const modules = isJsonObject(doc) ? doc["Modules"] : undefined;
  if (!Array.isArray(modules)) return out;
  for (const m of modules) {
    if (!isJsonObject(m)) continue;
    const key = m["Key"];
    const dir = m["Dir"];
    if (typeof key === "string" && typeof dir === "string" && key !== "") out.set(key, dir);
  }
  return out;
}

async function _realDir(dir: string, calledFrom: string): Promise<string> {
  try {
    const info = await Deno.stat(dir);
    if (!info.isDirectory) {
      throw new ModuleNotFoundError(dir, calledFrom, { cause: new Deno.errors.NotADirectory() });
    }
    return await Deno.realPath(dir);
  } catch (e) {
    if (e instanceof ModuleNotFoundError) throw e;
    throw new ModuleNotFoundError(dir, calledFrom, { cause: e });
  }
}

/**
 * Read the provider requirements of a whole configuration: the root module, every local
 * child module it calls (sources starting `./` or `../`, recursively), and — unless
 * disabled — remote modules already installed under `.terraform/modules`. Each directory
 * is read once, which also stops cycles of local module calls.
 *
 * Requires `--allow-read` for the configuration.
 *
 * @param rootDir The root module directory.
 * @param options File rules, installed-module walk and data directory.
 * @returns Per-provider constraint sources, registry hosts, modules and remote calls.
 * @throws {ConfigParseError} when a file is not valid HCL or JSON.
 * @throws {InvalidConfigError} when a file holds an invalid value.
 * @throws {ModuleNotFoundError} when the root or a local child module directory is missing.
 * @example Usage
 * ```ts ignore
 * import { mergedConstraints, readConfigRequirements } from "./config_requirements.ts";
 * const req = await readConfigRequirements("./infra");
 * for (const [provider, sources] of req.providers) {
 *   console.log(provider, mergedConstraints(sources), sources.map((s) => s.from));
 * }
 * ```
 */
export async function readConfigRequirements(
  rootDir: string,
  options: ReadConfigOptions = {},
): Promise<ConfigRequirements> {
  const flavor = options.flavor ?? "terraform";
  const manifest = options.installedModules === false
    ? new Map<string, string>()
    : await _readManifest(rootDir, options.dataDir ?? ".terraform");
  const rootAbs = _abs(rootDir);
  const providers = new Map<string, ProviderConstraintSource[]>();
  const hosts = new Set<string>();
  const modules: ConfigModule[] = [];
  const remoteModuleCalls: RemoteModuleCall[] = [];
  const visited = new Set<string>();

  const add = (addr: ProviderAddress, source: ProviderConstraintSource): void => {
    const key = providerAddressString(addr);
    let list = providers.get(key);
    if (list === undefined) providers.set(key, list = []);
    list.push(source);
    if (!isBuiltIn(addr)) hosts.add(addr.hostname);
  };

  const walk = async (
    dir: string,
    address: string,
    manifestKey: string,
    kind: ConfigModuleKind,
    calledFrom: string,
  ): Promise<void> => {
    const real = await _realDir(dir, calledFrom);
    if (visited.has(real)) return;
    visited.add(real);
    const req = await readModuleRequirements(dir, { flavor });
    const path = _posix(relative(rootAbs, _abs(dir))) || ".";
    modules.push({ address, path, kind, requirements: req });

    const covered = new Set<string>();
    for (const rp of req.requiredProviders.values()) {
      add(rp.address, {
        constraints: rp.versionConstraints,
        from: _from(path, rp.pos),
        module: address,
      });
      covered.add(providerAddressString(rp.address));
    }
    for (const ref of req.providerReferences) {
      const key = providerAddressString(ref.address);
      if (ref.versionConstraints === "" && covered.has(key)) continue;
      add(ref.address, {
        constraints: ref.versionConstraints,
        from: _from(path, ref.pos),
        module: address,
      });
      covered.add(key);
    }

    for (const call of req.moduleCalls) {
      const childAddress = address === ""
        ? `module.${call.name}`
        : `${address}.module.${call.name}`;
      const childKey = manifestKey === "" ? call.name : `${manifestKey}.${call.name}`;
      const from = _from(path, call.pos);
      const src = parseModuleSource(call.source);
      if (src.kind === "local") {
        await walk(join(dir, src.path), childAddress, childKey, "local", from);
        continue;
      }
      if (src.kind === "registry") hosts.add(src.hostname);
      const installed = manifest.get(childKey);
      let installedPath: string | undefined;
      if (installed !== undefined) {
        const installedDir = isAbsolute(installed) ? installed : join(rootDir, installed);
        let exists = false;
        try {
          exists = (await Deno.stat(installedDir)).isDirectory;
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
        if (exists) {
          installedPath = _posix(relative(rootAbs, _abs(installedDir)));
          remoteModuleCalls.push(_remote(call, address, src, from, installedPath));
          await walk(installedDir, childAddress, childKey, "installed", from);
          continue;
        }
      }
      remoteModuleCalls.push(_remote(call, address, src, from, installedPath));
    }
  };

  await walk(rootDir, "", "", "root", "");
  const sorted = new Map([...providers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { rootDir, providers: sorted, hosts, modules, remoteModuleCalls };
}

function _remote(
  call: { name: string; source: string; version: string | undefined },
  caller: string,
  src: ReturnType<typeof parseModuleSource>,
  from: string,
  installedPath: string | undefined,
): RemoteModuleCall {
  return {
    caller,
    name: call.name,
    source: call.source,
    version: call.version,
    registry: src.kind === "registry" ? src : undefined,
    from,
    installedPath,
  };
}

/**
 * The registry hosts a configuration needs (provider hosts and registry module hosts), in
 * normalised form. Shorthand for `(await readConfigRequirements(rootDir, options)).hosts`.
 *
 * Requires `--allow-read` for the configuration.
 *
 * @param rootDir The root module directory.
 * @param options As for {@link readConfigRequirements}.
 * @returns The hosts, e.g. `registry.terraform.io`, `127.0.0.1:8443`.
 * @example Usage
 * ```ts ignore
 * import { providerHosts } from "./config_requirements.ts";
 * const hosts = await providerHosts("./infra");
 * ```
 */
export async function providerHosts(
  rootDir: string,
  options: ReadConfigOptions = {},
): Promise<Set<string>> {
  return new Set((await readConfigRequirements(rootDir, options)).hosts);
}

/**
 * Intersect the constraints of several modules and render Terraform's canonical string
 * (the form the lock file records). Entries with `""` add nothing.
 *
 * @param sources The per-module constraints of one provider.
 * @returns The canonical string, `""` when nothing constrains the provider.
 * @throws {InvalidVersionConstraintError} when an entry is not a valid constraint string
 *   (entries read by {@link readConfigRequirements} were already validated).
 * @example Usage
 * ```ts
 * import { mergedConstraints } from "./config_requirements.ts";
 * mergedConstraints([
 *   { constraints: "~> 5.0", from: "main.tf:4", module: "" },
 *   { constraints: ">= 5.2", from: "modules/vpc/versions.tf:3", module: "module.vpc" },
 * ]); // "~> 5.0, >= 5.2.0"
 * ```
 */
export function mergedConstraints(sources: readonly ProviderConstraintSource[]): string {
  const all: VersionConstraint[] = [];
  for (const s of sources) all.push(...parseVersionConstraints(s.constraints));
  return constraintsString(all);
}

/**
 * The address behind a {@link ConfigRequirements.providers} key.
 *
 * @param key A fully-qualified `host/namespace/type` string.
 * @returns The parsed address.
 * @example Usage
 * ```ts
 * import { providerKeyAddress } from "./config_requirements.ts";
 * providerKeyAddress("127.0.0.1:8443/ns/type").hostname; // "127.0.0.1:8443"
 * ```
 */
export function providerKeyAddress(key: string): ProviderAddress {
  return parseProviderSource(key);
}

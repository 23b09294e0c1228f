/**
 * Which files in a module directory are configuration files, following Terraform's
 * `configs.Parser.dirFiles` rules (and, on request, OpenTofu's `.tofu` rules).
 *
 * @module
 */

/**
 * Which tool's file rules to apply.
 *
 * - `"terraform"` (default): `*.tf` and `*.tf.json` only.
 * - `"opentofu"`: also `*.tofu` and `*.tofu.json`; `name.tofu` hides `name.tf` and
 *   `name.tofu.json` hides `name.tf.json` in the same directory, as OpenTofu does.
 */
export type ConfigFlavor = "terraform" | "opentofu";

/** The syntax a configuration file is written in. */
export type ConfigSyntax = "hcl" | "json";

/** Options for {@link listConfigFiles}. */
export interface ListConfigFilesOptions {
  /** Which tool's file rules to apply; default `"terraform"`. */
  readonly flavor?: ConfigFlavor;
}

/** A module directory's configuration files, as bare file names. */
export interface ConfigFiles {
  /** Primary files, sorted by name. */
  readonly primary: readonly string[];
  /** Override files (`override.tf`, `*_override.tf`, …), sorted by name; applied last. */
  readonly override: readonly string[];
}

const _EXTENSIONS: readonly { ext: string; syntax: ConfigSyntax; tofu: boolean }[] = [
  // Longest first, so ".tf.json" wins over a hypothetical ".json" match.
  { ext: ".tofu.json", syntax: "json", tofu: true },
  { ext: ".tf.json", syntax: "json", tofu: false },
  { ext: ".tofu", syntax: "hcl", tofu: true },
  { ext: ".tf", syntax: "hcl", tofu: false },
];

function _splitExt(name: string): { base: string; ext: string; syntax: ConfigSyntax } | undefined {
  for (const e of _EXTENSIONS) {
    if (name.endsWith(e.ext) && name.length > e.ext.length) {
      return { base: name.slice(0, -e.ext.length), ext: e.ext, syntax: e.syntax };
    }
  }
  return undefined;
}

/**
 * Whether Terraform ignores a file name outright: dot-files, `~` backups and Emacs
 * `#autosave#` files.
 *
 * @param name A bare file name.
 * @returns `true` when the file is never read as configuration.
 * @example Usage
 * ```ts
 * import { isIgnoredConfigFile } from "./config_files.ts";
 * isIgnoredConfigFile(".main.tf.swp"); // true
 * isIgnoredConfigFile("main.tf~"); // true
 * isIgnoredConfigFile("main.tf"); // false
 * ```
 */
export function isIgnoredConfigFile(name: string): boolean {
  return name.startsWith(".") || name.endsWith("~") ||
    (name.startsWith("#") && name.endsWith("#"));
}

/**
 * The syntax of a configuration file name, or `undefined` when the name is not a
 * configuration file for the given flavor (including ignored names).
 *
 * @param name A bare file name.
 * @param flavor Which tool's rules to apply; default `"terraform"`.
 * @returns `"hcl"`, `"json"` or `undefined`.
 * @example Usage
 * ```ts
 * import { configFileSyntax } from "./config_files.ts";
 * configFileSyntax("main.tf"); // "hcl"
 * configFileSyntax("main.tf.json"); // "json"
 * configFileSyntax("main.tofu"); // undefined
 * configFileSyntax("main.tofu", "opentofu"); // "hcl"
 * ```
 */
export function configFileSyntax(
  name: string,
  flavor: ConfigFlavor = "terraform",
): ConfigSyntax | undefined {
  if (isIgnoredConfigFile(name)) return undefined;
  for (const e of _EXTENSIONS) {
    if (e.tofu && flavor !== "opentofu") continue;
    if (name.endsWith(e.ext) && name.length > e.ext.length) return e.syntax;
  }
  return undefined;
}

/**
 * Whether a configuration file name is an override file: its name without extension is
 * `override` or ends in `_override`.
 *
 * @param name A bare file name.
 * @returns `true` for override files.
 * @example Usage
 * ```ts
 * import { isOverrideFile } from "./config_files.ts";
 * isOverrideFile("override.tf"); // true
 * isOverrideFile("dev_override.tf.json"); // true
 * isOverrideFile("overrides.tf"); // false
 * ```
 */
export function isOverrideFile(name: string): boolean {
  const split = _splitExt(name);
  if (split === undefined) return false;
  return split.base === "override" || split.base.endsWith("_override");
}

function _byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * List a module directory's configuration files the way Terraform does: regular files (or
 * symlinks to files) named `*.tf` or `*.tf.json`, minus ignored names, split into primary
 * and override files. Subdirectories and test files (`*.tftest.hcl`) are not included.
 *
 * Requires `--allow-read` for `dir`.
 *
 * @param dir The module directory.
 * @param options Which tool's file rules to apply.
 * @returns The primary and override file names (bare names, sorted).
 * @throws {Deno.errors.NotFound} when `dir` does not exist.
 * @example Usage
 * ```ts ignore
 * import { listConfigFiles } from "./config_files.ts";
 * const { primary, override } = await listConfigFiles("./infra");
 * ```
 */
export async function listConfigFiles(
  dir: string,
  options: ListConfigFilesOptions = {},
): Promise<ConfigFiles> {
  const flavor = options.flavor ?? "terraform";
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) continue;
    if (configFileSyntax(entry.name, flavor) === undefined) continue;
    if (entry.isSymlink) {
      try {
        const info = await Deno.stat(`${dir}/${entry.name}`);
        if (!info.isFile) continue;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) continue; // dangling symlink
        throw e;
      }
    }
    names.push(entry.name);
  }
  let kept = names;
  if (flavor === "opentofu") {
    const present = new Set(names);
    kept = names.filter((n) => {
      if (n.endsWith(".tf.json")) {
        return !present.has(`${n.slice(0, -".tf.json".length)}.tofu.json`);
      }
      if (n.endsWith(".tf")) return !present.has(`${n.slice(0, -".tf".length)}.tofu`);
      return true;
    });
  }
  kept.sort(_byName);
  return {
    primary: kept.filter((n) => !isOverrideFile(n)),
    override: kept.filter((n) => isOverrideFile(n)),
  };
}

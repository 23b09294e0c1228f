/**
 * Read one module directory's provider requirements and module calls, as Terraform's
 * `configs` package would see them: `required_providers` entries, providers implied by
 * resources, data sources, ephemeral resources, `provider` blocks and `provider = x.y`
 * meta-arguments, and `module` calls, each with its file and (for HCL files) line.
 *
 * @module
 */

import {
  impliedProviderForUnqualifiedType,
  parseProviderPart,
  parseProviderSource,
  type ProviderAddress,
} from "../registry/provider_address.ts";
import { parseVersionConstraints } from "../registry/version_constraints.ts";
import { configFileSyntax, type ConfigFlavor, listConfigFiles } from "./config_files.ts";
import { ConfigParseError, InvalidConfigError } from "./errors.ts";
import { findBlocks, type OutlineBlock, outlineHcl } from "./_hcl_outline.ts";
import {
  blockBodies,
  hasTemplate,
  isJsonObject,
  type JsonObject,
  labelEntries,
  referenceText,
} from "./_json_body.ts";

/** A position in a module: the file name (relative to the module directory) and line. */
export interface ConfigPosition {
  /** File name relative to the module directory, e.g. `versions.tf`. */
  readonly file: string;
  /** 1-based line; absent for `.tf.json` files and when it could not be located. */
  readonly line?: number;
}

/** One `required_providers` entry. */
export interface RequiredProvider {
  /** The module-local name (the attribute name), e.g. `aws`. */
  readonly localName: string;
  /** The resolved address (from `source`, or implied from the local name). */
  readonly address: ProviderAddress;
  /** The `source` string as written, or `undefined` when omitted. */
  readonly source: string | undefined;
  /** The `version` constraint string as written, `""` when omitted. */
  readonly versionConstraints: string;
  /** Where the entry is. */
  readonly pos: ConfigPosition;
}

/** What kind of configuration item refers to a provider. */
export type ProviderReferenceKind =
  | "resource"
  | "data"
  | "ephemeral"
  | "provider"
  | "import"
  | "module";

/** A configuration item that needs a provider, resolved through `required_providers`. */
export interface ProviderReference {
  /** What refers to the provider. */
  readonly kind: ProviderReferenceKind;
  /** Human-readable subject, e.g. `resource "aws_instance" "web"` or `provider "aws"`. */
  readonly subject: string;
  /** The module-local provider name used, e.g. `aws` (from a type prefix or `aws.west`). */
  readonly localName: string;
  /** The resolved address. */
  readonly address: ProviderAddress;
  /**
   * Constraints from a `provider` block's deprecated `version` argument; `""` otherwise.
   */
  readonly versionConstraints: string;
  /** Where the item is. */
  readonly pos: ConfigPosition;
}

/** One `module` block. */
export interface ModuleCall {
  /** The call name (`module "<name>"`). */
  readonly name: string;
  /** The `source` string as written. */
  readonly source: string;
  /** The `version` constraint string, or `undefined` when omitted. */
  readonly version: string | undefined;
  /** Where the block is. */
  readonly pos: ConfigPosition;
}

/** Everything {@link readModuleRequirements} learns about one module. */
export interface ModuleRequirements {
  /** The module directory, as given. */
  readonly dir: string;
  /** The configuration files read (primary then override), relative to `dir`. */
  readonly files: readonly string[];
  /** `required_providers` entries by local name (override files already applied). */
  readonly requiredProviders: ReadonlyMap<string, RequiredProvider>;
  /** Every item that needs a provider, in file order. */
  readonly providerReferences: readonly ProviderReference[];
  /** Module calls, in file order (override files already applied). */
  readonly moduleCalls: readonly ModuleCall[];
}

/** Options for {@link readModuleRequirements}. */
export interface ReadModuleOptions {
  /** Which tool's file rules to apply; default `"terraform"`. */
  readonly flavor?: ConfigFlavor;
}

/** One file's content in JSON form, plus an outline for positions (HCL only). */
interface _ParsedFile {
  readonly name: string;
  readonly path: string;
  readonly body: JsonObject;
  readonly outline: OutlineBlock | undefined;
}

type _HclParse = (filename: string, contents: string) => Promise<unknown>;
let _hclParser: Promise<_HclParse> | undefined;

/**
 * HashiCorp's HCL parser compiled to wasm, loaded on first use. It is imported lazily
 * because loading it reads the wasm file, starts a Go runtime, and (through `fs-extra` →
 * `graceful-fs`) reads the `GRACEFUL_FS_PLATFORM` environment variable, so it needs
 * `--allow-read` for the npm cache and `--allow-env`; commands that parse no HCL should
 * not pay for that.
 */
function _hcl(): Promise<_HclParse> {
  _hclParser ??= import("npm:@cdktf/hcl2json@0.21.0").then((m) => m.parse as _HclParse);
  return _hclParser;
}

const _HCL_DIAG = /([^\s[\]]+):(\d+),(\d+)(?:-[\d,]+)?: ([^\]]*)/;
const _JSON_POS = /\(line (\d+) column (\d+)\)/;

async function _parseFile(dir: string, name: string, flavor: ConfigFlavor): Promise<_ParsedFile> {
  const path = `${dir}/${name}`;
  const text = await Deno.readTextFile(path);
  if (configFileSyntax(name, flavor) === "json") {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const m = _JSON_POS.exec(msg);
      throw new ConfigParseError(
        m === null ? { file: path } : { file: path, line: Number(m[1]), column: Number(m[2]) },
        `invalid JSON: ${msg}`,
        { cause: e },
      );
    }
    if (!isJsonObject(value)) {
      throw new ConfigParseError(
        { file: path },
        "the root of a JSON configuration file must be an object",
      );
    }
    return { name, path, body: value, outline: undefined };
  }
  let value: unknown;
  try {
    value = await (await _hcl())(name, text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const m = _HCL_DIAG.exec(msg);
    if (m === null) throw new ConfigParseError({ file: path }, msg, { cause: e });
    throw new ConfigParseError(
      { file: path, line: Number(m[2]), column: Number(m[3]) },
      (m[4] as string).trim(),
      { cause: e },
    );
  }
  if (!isJsonObject(value)) {
    throw new ConfigParseError({ file: path }, "the HCL parser returned no body");
  }
  return { name, path, body: value, outline: outlineHcl(text) };
}

function _pos(file: _ParsedFile, line: number | undefined): ConfigPosition {
  return line === undefined ? { file: file.name } : { file: file.name, line };
}

function _literal(
  file: _ParsedFile,
  line: number | undefined,
  what: string,
  v: unknown,
): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" || hasTemplate(v)) {
    throw new InvalidConfigError(
      { file: file.path, ...(line === undefined ? {} : { line }) },
      `${what} must be a literal string, not an expression`,
    );
  }
  return v;
}

const _LOCAL_REF = /^([A-Za-z_][A-Za-z0-9_-]*)(?:\.([A-Za-z_][A-Za-z0-9_-]*))?$/;

/** Collects one module's requirements across its files. */
class _Collector {
  readonly required = new Map<string, RequiredProvider>();
  readonly calls = new Map<string, ModuleCall>();
  /** References whose local name is resolved at the end, once all files are read. */
  readonly refs: Omit<ProviderReference, "address">[] = [];
  readonly #refPaths: string[] = [];

  #localName(file: _ParsedFile, line: number | undefined, name: string): string {
    try {
      return parseProviderPart(name);
    } catch (e) {
      throw new InvalidConfigError(
        { file: file.path, ...(line === undefined ? {} : { line }) },
        `"${name}" is not a valid provider local name: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  #addRef(
    file: _ParsedFile,
    kind: ProviderReferenceKind,
    subject: string,
    localName: string,
    line: number | undefined,
    versionConstraints = "",
  ): void {
    const name = this.#localName(file, line, localName);
    this.refs.push({ kind, subject, localName: name, versionConstraints, pos: _pos(file, line) });
    this.#refPaths.push(file.path);
  }

  /** Resolve a `provider = x` / `x.alias` reference to its local name. */
  #refLocalName(file: _ParsedFile, line: number | undefined, subject: string, v: unknown): string {
    const text = referenceText(v);
    const m = text === undefined ? null : _LOCAL_REF.exec(text);
    if (m === null) {
      throw new InvalidConfigError(
        { file: file.path, ...(line === undefined ? {} : { line }) },
        `The "provider" argument of ${subject} must be a provider reference such as aws or aws.west, got ${
          JSON.stringify(v)
        }`,
      );
    }
    return m[1] as string;
  }

  requiredProviders(file: _ParsedFile, override: boolean): void {
    const tfBlocks = file.outline === undefined
      ? []
      : findBlocks(file.outline, [{ type: "terraform" }, { type: "required_providers" }]);
    // hcl2json returns keys sorted, so the k-th entry named `name` in this file is matched
    // with the k-th `name = …` line in the file's required_providers blocks.
    const seen = new Map<string, number>();
    const lineOf = (name: string): number | undefined => {
      const k = seen.get(name) ?? 0;
      seen.set(name, k + 1);
      return tfBlocks.flatMap((b) => b.attrLines.get(name) ?? [])[k];
    };
    for (const tb of blockBodies(file.body["terraform"])) {
      for (const [localName, spec] of labelEntries(tb["required_providers"])) {
        const line = lineOf(localName);
        const loc = { file: file.path, ...(line === undefined ? {} : { line }) };
        const name = this.#localName(file, line, localName);
        let source: string | undefined;
        let version: string | undefined;
        if (typeof spec === "string") {
          version = _literal(file, line, `The version constraint for provider "${name}"`, spec);
        } else if (isJsonObject(spec)) {
          source = _literal(
            file,
            line,
            `The source address for provider "${name}"`,
            spec["source"],
          );
          version = _literal(
            file,
            line,
            `The version constraint for provider "${name}"`,
            spec["version"],
          );
        } else {
          throw new InvalidConfigError(
            loc,
            `required_providers entry "${name}" must be an object with "source" and "version"`,
          );
        }
        let address: ProviderAddress;
        try {
          address = source === undefined
            ? impliedProviderForUnqualifiedType(name)
            : parseProviderSource(source);
        } catch (e) {
          throw new InvalidConfigError(
            loc,
            `Cannot use source "${source}" for provider "${name}": ${(e as Error).message}`,
            { cause: e },
          );
        }
        if (version !== undefined) {
          try {
            parseVersionConstraints(version);
          } catch (e) {
            throw new InvalidConfigError(
              loc,
              `Cannot use version constraint "${version}" for provider "${name}": ${
                (e as Error).message
              }`,
              { cause: e },
            );
          }
        }
        const existing = this.required.get(name);
        if (existing !== undefined && !override) {
          const at = existing.pos.line === undefined
            ? existing.pos.file
            : `${existing.pos.file}:${existing.pos.line}`;
          throw new InvalidConfigError(
            loc,
            `Duplicate required provider "${name}": it is already declared at ${at}; remove one of the entries`,
          );
        }
        this.required.set(name, {
          localName: name,
          address,
          source,
          versionConstraints: version ?? "",
          pos: _pos(file, line),
        });
      }
    }
  }

  resources(
    file: _ParsedFile,
    kind: "resource" | "data" | "ephemeral",
    container: JsonObject,
    outlinePrefix: readonly { type: string; labels?: readonly string[] }[],
    subjectPrefix: string,
  ): void {
    for (const [type, byName] of labelEntries(container[kind])) {
      for (const [name, value] of labelEntries(byName)) {
        const blocks = file.outline === undefined
          ? []
          : findBlocks(file.outline, [...outlinePrefix, { type: kind, labels: [type, name] }]);
        for (const [k, body] of blockBodies(value).entries()) {
          const block = blocks[k];
          const subject = `${subjectPrefix}${kind} "${type}" "${name}"`;
          const provider = body["provider"];
          if (provider !== undefined) {
            const line = block?.attrs.get("provider") ?? block?.line;
            this.#addRef(
              file,
              kind,
              subject,
              this.#refLocalName(file, line, subject, provider),
              line,
            );
          } else {
            const idx = type.indexOf("_");
            this.#addRef(file, kind, subject, idx < 0 ? type : type.slice(0, idx), block?.line);
          }
        }
      }
    }
  }

  providerBlocks(file: _ParsedFile): void {
    for (const [name, value] of labelEntries(file.body["provider"])) {
      const blocks = file.outline === undefined
        ? []
        : findBlocks(file.outline, [{ type: "provider", labels: [name] }]);
      blockBodies(value).forEach((body, k) => {
        const block = blocks[k];
        const alias = typeof body["alias"] === "string" ? ` (alias "${body["alias"]}")` : "";
        const subject = `provider "${name}"${alias}`;
        const versionLine = block?.attrs.get("version") ?? block?.line;
        const version = _literal(
          file,
          versionLine,
          `The "version" argument of ${subject}`,
          body["version"],
        ) ?? "";
        if (version !== "") {
          try {
            parseVersionConstraints(version);
          } catch (e) {
            throw new InvalidConfigError(
              { file: file.path, ...(versionLine === undefined ? {} : { line: versionLine }) },
              `Cannot use version constraint "${version}" in ${subject}: ${(e as Error).message}`,
              { cause: e },
            );
          }
        }
        this.#addRef(file, "provider", subject, name, block?.line, version);
      });
    }
  }

  imports(file: _ParsedFile, declared: ReadonlySet<string>): void {
    const blocks = file.outline === undefined ? [] : findBlocks(file.outline, [{ type: "import" }]);
    blockBodies(file.body["import"]).forEach((body, k) => {
      const block = blocks[k];
      const to = referenceText(body["to"]) ?? "";
      const subject = `import to ${to}`;
      if (body["provider"] !== undefined) {
        const line = block?.attrs.get("provider") ?? block?.line;
        this.#addRef(
          file,
          "import",
          subject,
          this.#refLocalName(file, line, subject, body["provider"]),
          line,
        );
        return;
      }
      // Config generation: a target resource that is not declared still needs its
      // provider. A target in a child module (module.x.…) is that module's business.
      const m = /^([A-Za-z_][A-Za-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_-]*)(\[[^\]]*\])?$/.exec(to);
      if (m === null || m[1] === "module" || m[1] === "data") return;
      const type = m[1] as string;
      if (declared.has(`${type}.${m[2]}`)) return;
      const idx = type.indexOf("_");
      this.#addRef(file, "import", subject, idx < 0 ? type : type.slice(0, idx), block?.line);
    });
  }

  moduleCalls(file: _ParsedFile, override: boolean): void {
    for (const [name, value] of labelEntries(file.body["module"])) {
      const blocks = file.outline === undefined
        ? []
        : findBlocks(file.outline, [{ type: "module", labels: [name] }]);
      for (const [k, body] of blockBodies(value).entries()) {
        const block = blocks[k];
        const line = block?.line;
        const loc = { file: file.path, ...(line === undefined ? {} : { line }) };
        const source = _literal(
          file,
          block?.attrs.get("source") ?? line,
          `The "source" argument of module "${name}"`,
          body["source"],
        );
        const version = _literal(
          file,
          block?.attrs.get("version") ?? line,
          `The "version" argument of module "${name}"`,
          body["version"],
        );
        const existing = this.calls.get(name);
        if (existing !== undefined) {
          if (!override) {
            const at = existing.pos.line === undefined
              ? existing.pos.file
              : `${existing.pos.file}:${existing.pos.line}`;
            throw new InvalidConfigError(
              loc,
              `Duplicate module call "${name}": a module call with this name is already declared at ${at}`,
            );
          }
          this.calls.set(name, {
            ...existing,
            source: source ?? existing.source,
            version: version ?? existing.version,
          });
        } else {
          if (source === undefined) {
            throw new InvalidConfigError(
              loc,
              `module "${name}" has no "source" argument; every module call needs one`,
            );
          }
          this.calls.set(name, { name, source, version, pos: _pos(file, line) });
        }
        // `providers = { child = parent.alias }`: the values are this module's providers.
        const providers = body["providers"];
        const subject = `module "${name}" providers`;
        const pline = block?.attrs.get("providers") ?? line;
        for (const [, ref] of labelEntries(providers)) {
          this.#addRef(
            file,
            "module",
            subject,
            this.#refLocalName(file, pline, subject, ref),
            pline,
          );
        }
      }
    }
  }

  resolve(): ProviderReference[] {
    return this.refs.map((r, k) => {
      const req = this.required.get(r.localName);
      let address: ProviderAddress;
      if (req !== undefined) address = req.address;
      else {
        try {
          address = impliedProviderForUnqualifiedType(r.localName);
        } catch (e) {
          throw new InvalidConfigError(
            {
              file: this.#refPaths[k] as string,
              ...(r.pos.line === undefined ? {} : { line: r.pos.line }),
            },
            `Cannot imply a provider for ${r.subject}: ${(e as Error).message}`,
            { cause: e },
          );
        }
      }
      return { ...r, address };
    });
  }
}

/**
 * Read one module directory's provider requirements and module calls. Primary files are
 * read first, then override files, whose `required_providers` entries replace (or add to)
 * the primary ones and whose module calls replace `source`/`version` of the matching call.
 * A local name not declared in `required_providers` implies `hashicorp/<name>` on the
 * default registry, except `terraform`, which is the built-in
 * `terraform.io/builtin/terraform`.
 *
 * Requires `--allow-read` for `dir`.
 *
 * @param dir The module directory.
 * @param options Which tool's file rules to apply.
 * @returns The module's requirements; empty when the directory has no configuration files.
 * @throws {ConfigParseError} when a file is not valid HCL or JSON (names file and line).
 * @throws {InvalidConfigError} for an invalid provider source, version constraint or
 *   reference, a non-literal `source`/`version`, or a duplicate entry.
 * @throws {Deno.errors.NotFound} when `dir` does not exist.
 * @example Usage
 * ```ts ignore
 * import { readModuleRequirements } from "./module_requirements.ts";
 * const req = await readModuleRequirements("./infra");
 * for (const [name, rp] of req.requiredProviders) console.log(name, rp.versionConstraints);
 * ```
 */
export async function readModuleRequirements(
  dir: string,
  options: ReadModuleOptions = {},
): Promise<ModuleRequirements> {
  const flavor = options.flavor ?? "terraform";
  const { primary, override } = await listConfigFiles(dir, { flavor });
  const files: { file: _ParsedFile; override: boolean }[] = [];
  // Sequential on purpose: the wasm parser is a single instance.
  for (const name of primary) {
    files.push({ file: await _parseFile(dir, name, flavor), override: false });
  }
  for (const name of override) {
    files.push({ file: await _parseFile(dir, name, flavor), override: true });
  }

  const c = new _Collector();
  const declared = new Set<string>();
  for (const { file } of files) {
    for (const [type, byName] of labelEntries(file.body["resource"])) {
      for (const [name] of labelEntries(byName)) declared.add(`${type}.${name}`);
    }
  }
  for (const { file, override: isOverride } of files) {
    c.requiredProviders(file, isOverride);
    c.providerBlocks(file);
    for (const kind of ["resource", "data", "ephemeral"] as const) {
      c.resources(file, kind, file.body, [], "");
    }
    for (const [checkName, value] of labelEntries(file.body["check"])) {
      for (const body of blockBodies(value)) {
        c.resources(
          file,
          "data",
          body,
          [{ type: "check", labels: [checkName] }],
          `check "${checkName}" `,
        );
      }
    }
    c.imports(file, declared);
    c.moduleCalls(file, isOverride);
  }
  // hcl2json returns object keys sorted, not in file order: restore file order.
  const fileIndex = new Map(files.map((f, k) => [f.file.name, k]));
  const byPos = (a: { pos: ConfigPosition }, b: { pos: ConfigPosition }): number =>
    (fileIndex.get(a.pos.file) ?? 0) - (fileIndex.get(b.pos.file) ?? 0) ||
    (a.pos.line ?? Infinity) - (b.pos.line ?? Infinity) || 0;
  return {
    dir,
    files: files.map((f) => f.file.name),
    requiredProviders: new Map(
      [...c.required].sort(([, a], [, b]) => byPos(a, b)),
    ),
    providerReferences: c.resolve().sort(byPos),
    moduleCalls: [...c.calls.values()].sort(byPos),
  };
}

/**
 * Read `.terraform.lock.hcl` with Terraform's rules and diagnostics (summaries and
 * details as Terraform words them), each carrying an exact `file:line:column` range.
 * Reading never stops at the first problem: every diagnostic is collected and the
 * well-formed entries are returned.
 *
 * @module
 */

import {
  isBuiltIn,
  isLegacy,
  parseProviderSource,
  type ProviderAddress,
  providerAddressString,
} from "../registry/provider_address.ts";
import { InvalidVersionError, parseVersion, versionString } from "../registry/version.ts";
import {
  constraintsString,
  InvalidVersionConstraintError,
  parseVersionConstraints,
} from "../registry/version_constraints.ts";
import { _parseHcl, type Attribute, type Block, type Expr, type Range } from "./_hcl.ts";
import { InvalidHashError, parseHash } from "./hash_string.ts";
import { LockFile } from "./lock_file.ts";

export type { Pos, Range } from "./_hcl.ts";

/** Diagnostic severity, as Terraform reports it. */
export type Severity = "error" | "warning";

/** One problem found while reading a lock file. */
export interface Diagnostic {
  /** `error` or `warning`. */
  readonly severity: Severity;
  /** Short summary, e.g. `Duplicate provider lock`. */
  readonly summary: string;
  /** Full explanation. */
  readonly detail: string;
  /** File name the range refers to. */
  readonly filename: string;
  /** Source range, absent for file-level problems (e.g. unreadable file). */
  readonly range?: Range;
}

/** Result of reading a lock file. */
export interface LockFileReadResult {
  /** The entries that could be decoded. */
  readonly lockFile: LockFile;
  /** Every diagnostic, in source order. */
  readonly diagnostics: Diagnostic[];
  /**
   * The tool named by the standard two-line header (`terraform`, `tofu`, …), or
   * `undefined` when the file does not start with that header.
   */
  readonly headerTool: string | undefined;
}

/** A lock file that has errors, for callers that want an exception. */
export class LockFileError extends Error {
  /** All diagnostics (errors and warnings). */
  readonly diagnostics: readonly Diagnostic[];

  /**
   * @param diagnostics The diagnostics; the message lists the errors.
   */
  constructor(diagnostics: readonly Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === "error");
    super(
      `Invalid dependency lock file (${errors.length} error${errors.length === 1 ? "" : "s"}):\n` +
        errors.map(formatDiagnostic).join("\n"),
    );
    this.name = "LockFileError";
    this.diagnostics = diagnostics;
  }
}

/**
 * HCL's range notation: `file:line,col-col` or `file:line,col-line,col`.
 *
 * @param filename File name.
 * @param r The range.
 * @returns e.g. `.terraform.lock.hcl:4,1-49`.
 */
export function hclRangeString(filename: string, r: Range): string {
  if (r.start.line === r.end.line) {
    return `${filename}:${r.start.line},${r.start.column}-${r.end.column}`;
  }
  return `${filename}:${r.start.line},${r.start.column}-${r.end.line},${r.end.column}`;
}

/**
 * One-line rendering: `file:line:column: severity: summary; detail`.
 *
 * @param d The diagnostic.
 * @returns The text.
 */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.range === undefined
    ? d.filename
    : `${d.filename}:${d.range.start.line}:${d.range.start.column}`;
  return `${where}: ${d.severity}: ${d.summary}; ${d.detail}`;
}

const _HEADER =
  /^# This file is maintained automatically by "([^"\n]*) init"\.\n# Manual edits may be lost in future updates\.\n/;

const _PROVIDER_ARGS = new Set(["version", "constraints", "hashes"]);

class _Decoder {
  readonly filename: string;
  readonly diagnostics: Diagnostic[] = [];
  readonly lockFile = new LockFile();

  constructor(filename: string) {
    this.filename = filename;
  }

  diag(severity: Severity, summary: string, detail: string, range: Range): void {
    this.diagnostics.push({ severity, summary, detail, filename: this.filename, range });
  }

  error(summary: string, detail: string, range: Range): void {
    this.diag("error", summary, detail, range);
  }

  /** gohcl-style decode of an expression into a string (numbers and bools convert). */
  stringValue(expr: Expr, allowNull: boolean): string | null | undefined {
    switch (expr.kind) {
      case "string":
        return expr.value;
      case "number":
        return String(Number(expr.raw));
      case "bool":
        return String(expr.value);
      case "null":
        if (allowNull) return null;
        this.error("Unsuitable value type", "Unsuitable value: value must not be null", expr.range);
        return undefined;
      case "variable":
        this.error("Variables not allowed", "Variables may not be used here.", expr.range);
        return undefined;
      case "tuple":
        this.error("Unsuitable value type", "Unsuitable value: string required", expr.range);
        return undefined;
      case "invalid":
        return undefined;
    }
  }

  blockDefRange(b: Block): Range {
    const last = b.labelRanges[b.labelRanges.length - 1] ?? b.typeRange;
    return { start: b.typeRange.start, end: last.end };
  }

  checkLabels(b: Block, labelName: string): boolean {
    if (b.labels.length < 1) {
      this.error(
        `Missing ${labelName} for ${b.type}`,
        `All ${b.type} blocks must have 1 labels (${labelName}).`,
        b.openBraceRange,
      );
      return false;
    }
    if (b.labels.length > 1) {
      this.error(
        `Extraneous label for ${b.type}`,
        `Only 1 labels (${labelName}) are expected for ${b.type} blocks.`,
        b.labelRanges[1] as Range,
      );
      return false;
    }
    return true;
  }

  decode(body: ReturnType<typeof _parseHcl>["body"]): void {
    const seen = new Map<string, Range>();
    let warnedModules = false;
    for (const item of body.items) {
      if (item.kind === "attribute") {
        this.error(
          "Unsupported argument",
          `An argument named "${item.attribute.name}" is not expected here.`,
          item.attribute.nameRange,
        );
        continue;
      }
      const b = item.block;
      if (b.type === "provider") {
        if (!this.checkLabels(b, "source_addr")) continue;
        const addr = this.decodeProvider(b);
        if (addr === undefined) continue;
        const key = providerAddressString(addr);
        const prev = seen.get(key);
        if (prev !== undefined) {
          this.error(
            "Duplicate provider lock",
            `This lockfile already declared a lock for provider ${key} at ${
              hclRangeString(this.filename, prev)
            }.`,
            b.typeRange,
          );
          continue;
        }
        seen.set(key, this.blockDefRange(b));
        this.decodeProviderBody(addr, b);
      } else if (b.type === "module") {
        if (!this.checkLabels(b, "path")) continue;
        if (!warnedModules) {
          warnedModules = true;
          this.diag(
            "warning",
            "Dependency locks for modules are not yet supported",
            "This version only supports dependency locks for providers, not for modules. " +
              "This configuration may be intended for a later version of Terraform that also " +
              "supports dependency locks for modules.",
            b.typeRange,
          );
        }
      } else {
        this.error(
          "Unsupported block type",
          `Blocks of type "${b.type}" are not expected here.`,
          b.typeRange,
        );
      }
    }
  }

  decodeProvider(b: Block): ProviderAddress | undefined {
    const raw = b.labels[0] as string;
    const where = b.labelRanges[0] as Range;
    let addr: ProviderAddress;
    try {
      addr = parseProviderSource(raw);
    } catch {
      this.error(
        "Invalid provider source address",
        'The provider source address for a provider lock must be a valid, fully-qualified address of the form "hostname/namespace/type".',
        where,
      );
      return undefined;
    }
    const canon = providerAddressString(addr);
    if (isBuiltIn(addr)) {
      this.error(
        "Invalid provider source address",
        `Cannot lock a version for built-in provider ${canon}. Built-in providers are bundled inside Terraform itself, so you can't select a version for them independently of the Terraform release you are currently running.`,
        where,
      );
      return undefined;
    }
    if (isLegacy(addr)) {
      this.error(
        "Invalid provider source address",
        `Provider source address ${canon} is a special provider that is not eligible for dependency locking.`,
        where,
      );
      return undefined;
    }
    if (canon !== raw) {
      this.error(
        "Non-normalized provider source address",
        `The provider source address for this provider lock must be written as "${canon}", the fully-qualified and normalized form.`,
        where,
      );
      return undefined;
    }
    return addr;
  }

  decodeProviderBody(addr: ProviderAddress, b: Block): void {
    const attrs = new Map<string, Attribute>();
    for (const item of b.body.items) {
      if (item.kind === "block") {
        this.error(
          "Unsupported block type",
          `Blocks of type "${item.block.type}" are not expected here.`,
          item.block.typeRange,
        );
        continue;
      }
      const a = item.attribute;
      const prev = attrs.get(a.name);
      if (prev !== undefined) {
        this.error(
          "Attribute redefined",
          `The argument "${a.name}" was already set at ${
            hclRangeString(this.filename, prev.nameRange)
          }. Each argument may be set only once.`,
          a.nameRange,
        );
        continue;
      }
      if (!_PROVIDER_ARGS.has(a.name)) {
        this.error(
          "Unsupported argument",
          `An argument named "${a.name}" is not expected here.`,
          a.nameRange,
        );
        continue;
      }
      attrs.set(a.name, a);
    }
    const who = providerAddressString(addr);

    // version (required)
    const versionAttr = attrs.get("version");
    let version = undefined;
    if (versionAttr === undefined) {
      this.error(
        "Missing required argument",
        'The argument "version" is required, but no definition was found.',
        b.openBraceRange,
      );
    } else {
      const expr = versionAttr.expr;
      const raw = this.stringValue(expr, true);
      if (raw === null) {
        this.error(
          "Missing required argument",
          'A provider lock block must contain a "version" argument.',
          expr.range,
        );
      } else if (raw !== undefined) {
        try {
          version = parseVersion(raw);
          const canon = versionString(version);
          if (canon !== raw) {
            this.error(
              "Invalid provider version number",
              `The selected version number for provider ${who} must be written in normalized form: "${canon}".`,
              expr.range,
            );
          }
        } catch (e) {
          if (!(e instanceof InvalidVersionError)) throw e;
          this.error(
            "Invalid provider version number",
            `The selected version number for provider ${who} is invalid: ${e.reason}.`,
            expr.range,
          );
        }
      }
    }

    // constraints (optional)
    let constraints: string | undefined;
    const cAttr = attrs.get("constraints");
    if (cAttr !== undefined) {
      const raw = this.stringValue(cAttr.expr, false);
      if (typeof raw === "string") {
        try {
          const canon = constraintsString(parseVersionConstraints(raw));
          constraints = canon;
          if (canon !== raw) {
            this.error(
              "Invalid provider version constraints",
              `The recorded version constraints for provider ${who} must be written in normalized form: "${canon}".`,
              cAttr.expr.range,
            );
          }
        } catch (e) {
          if (!(e instanceof InvalidVersionConstraintError)) throw e;
          this.error(
            "Invalid provider version constraints",
            `The recorded version constraints for provider ${who} are invalid: ${e.reason}.`,
            cAttr.expr.range,
          );
        }
      }
    }

    // hashes (optional)
    const hashes: string[] = [];
    const hAttr = attrs.get("hashes");
    if (hAttr !== undefined) {
      const expr = hAttr.expr;
      if (expr.kind === "tuple") {
        if (expr.items.length === 0) {
          this.error(
            "Invalid provider hash set",
            'The "hashes" argument must either be omitted or contain at least one hash value.',
            expr.range,
          );
        }
        for (const item of expr.items) {
          const raw = this.stringValue(item, false);
          if (typeof raw !== "string") continue;
          try {
            parseHash(raw);
            hashes.push(raw);
          } catch (e) {
            if (!(e instanceof InvalidHashError)) throw e;
            this.error(
              "Invalid provider hash string",
              `Cannot interpret "${raw}" as a provider hash: ${e.message}.`,
              item.range,
            );
          }
        }
      } else if (expr.kind !== "invalid") {
        this.error("Invalid expression", "A static list expression is required.", expr.range);
      }
    }

    if (version !== undefined) this.lockFile.setProvider(addr, version, constraints, hashes);
  }
}

/**
 * Parse lock-file text.
 *
 * @param source File contents (bytes must be UTF-8).
 * @param filename Name used in diagnostics.
 * @returns The decoded entries, all diagnostics and the header's tool name.
 * @example
 * ```ts
 * const text = 'provider "registry.terraform.io/hashicorp/aws" {\n  version = "5.0.0"\n}\n';
 * const { lockFile, diagnostics } = parseLockFile(text, ".terraform.lock.hcl");
 * if (diagnostics.length !== 0 || lockFile.size !== 1) throw new Error("unexpected");
 * ```
 */
export function parseLockFile(
  source: string | Uint8Array,
  filename = ".terraform.lock.hcl",
): LockFileReadResult {
  const decoder = new _Decoder(filename);
  let text: string;
  if (typeof source === "string") {
    text = source;
  } else {
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(source);
    } catch {
      decoder.diagnostics.push({
        severity: "error",
        summary: "Invalid character encoding",
        detail:
          "All input files must be UTF-8 encoded. Ensure that UTF-8 encoding is selected in your editor.",
        filename,
      });
      return {
        lockFile: decoder.lockFile,
        diagnostics: decoder.diagnostics,
        headerTool: undefined,
      };
    }
  }
  const { body, errors } = _parseHcl(text);
  for (const e of errors) decoder.error(e.summary, e.detail, e.range);
  decoder.decode(body);
  const byPos = (d: Diagnostic) => d.range?.start.byte ?? -1;
  // Stable: syntax errors and decode errors interleave in source order.
  decoder.diagnostics.sort((a, b) => byPos(a) - byPos(b));
  const m = _HEADER.exec(text.replaceAll("\r\n", "\n"));
  return {
    lockFile: decoder.lockFile,
    diagnostics: decoder.diagnostics,
    headerTool: m?.[1],
  };
}

/**
 * Read and parse a lock file from disk. An unreadable file (missing, a directory, no
 * permission) gives an empty lock file and a `Failed to read file` error diagnostic.
 * Needs `--allow-read` for `path`.
 *
 * @param path File path.
 * @returns As {@link parseLockFile}, with `path` as the diagnostics' file name.
 */
export async function readLockFile(path: string): Promise<LockFileReadResult> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied && e.message.includes("--allow-read")) throw e;
    return {
      lockFile: new LockFile(),
      diagnostics: [{
        severity: "error",
        summary: "Failed to read file",
        detail: `The configuration file "${path}" could not be read.`,
        filename: path,
      }],
      headerTool: undefined,
    };
  }
  return parseLockFile(bytes, path);
}

/**
 * @param diagnostics Diagnostics from a read.
 * @returns Whether any is an error.
 */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}

/**
 * Typed errors raised while reading Terraform/OpenTofu configuration in `src/config/`.
 *
 * Callers branch on the class (`instanceof`), never on the message text. The offending file
 * (and line, when known) is always a readonly field.
 *
 * @module
 */

/** Where an error was found: a file path and, when known, a 1-based line and column. */
export interface ConfigErrorLocation {
  /** Path of the configuration file, as given to the reader. */
  readonly file: string;
  /** 1-based line, when known. */
  readonly line?: number;
  /** 1-based column, when known. */
  readonly column?: number;
}

function _where(loc: ConfigErrorLocation): string {
  if (loc.line === undefined) return `"${loc.file}"`;
  return `"${loc.file}" line ${loc.line}`;
}

/**
 * A configuration file is not valid HCL (or not valid JSON for `.tf.json`).
 *
 * @example Usage
 * ```ts ignore
 * try {
 *   await readModuleRequirements("./infra");
 * } catch (e) {
 *   if (e instanceof ConfigParseError) console.error(e.file, e.line, e.detail);
 * }
 * ```
 */
export class ConfigParseError extends SyntaxError {
  /** Path of the file that failed to parse. */
  readonly file: string;
  /** 1-based line of the first error, when the parser reports it. */
  readonly line: number | undefined;
  /** 1-based column of the first error, when the parser reports it. */
  readonly column: number | undefined;
  /** The parser's own description of the problem. */
  readonly detail: string;

  /**
   * @param loc The file (and position) that failed to parse.
   * @param detail The parser's description of the problem.
   * @param options The underlying `cause`.
   */
  constructor(loc: ConfigErrorLocation, detail: string, options: { cause?: unknown } = {}) {
    super(`Cannot parse ${_where(loc)}: ${detail}`, { cause: options.cause });
    this.name = "ConfigParseError";
    this.file = loc.file;
    this.line = loc.line;
    this.column = loc.column;
    this.detail = detail;
  }
}

/**
 * A configuration file parses but holds a value Terraform would reject: an invalid provider
 * source address, a non-string `source`/`version`, or a duplicate `required_providers` entry.
 *
 * @example Usage
 * ```ts ignore
 * try {
 *   await readModuleRequirements("./infra");
 * } catch (e) {
 *   if (e instanceof InvalidConfigError) console.error(`${e.file}:${e.line}: ${e.detail}`);
 * }
 * ```
 */
export class InvalidConfigError extends TypeError {
  /** Path of the file holding the bad value. */
  readonly file: string;
  /** 1-based line of the bad value, when known. */
  readonly line: number | undefined;
  /** What is wrong and how to fix it. */
  readonly detail: string;

  /**
   * @param loc The file (and position) of the bad value.
   * @param detail What is wrong and how to fix it.
   * @param options The underlying `cause`.
   */
  constructor(loc: ConfigErrorLocation, detail: string, options: { cause?: unknown } = {}) {
    super(`Invalid configuration in ${_where(loc)}: ${detail}`, { cause: options.cause });
    this.name = "InvalidConfigError";
    this.file = loc.file;
    this.line = loc.line;
    this.detail = detail;
  }
}

/**
 * A module call points at a local directory that does not exist or cannot be read.
 *
 * @example Usage
 * ```ts ignore
 * try {
 *   await readConfigRequirements(".");
 * } catch (e) {
 *   if (e instanceof ModuleNotFoundError) console.error(e.dir, e.calledFrom);
 * }
 * ```
 */
export class ModuleNotFoundError extends Error {
  /** The directory that was looked for. */
  readonly dir: string;
  /** Where the module call is, e.g. `main.tf:12`, or `""` for the root module. */
  readonly calledFrom: string;

  /**
   * @param dir The directory that was looked for.
   * @param calledFrom Where the module call is (`file:line`), or `""` for the root module.
   * @param options The underlying `cause`.
   */
  constructor(dir: string, calledFrom: string, options: { cause?: unknown } = {}) {
    super(
      calledFrom === ""
        ? `Cannot read module directory "${dir}": ${_causeText(options.cause)}`
        : `Cannot read module directory "${dir}" called from ${calledFrom}: ${
          _causeText(options.cause)
        }`,
      { cause: options.cause },
    );
    this.name = "ModuleNotFoundError";
    this.dir = dir;
    this.calledFrom = calledFrom;
  }
}

function _causeText(cause: unknown): string {
  if (cause instanceof Deno.errors.NotFound) return "no such directory";
  if (cause instanceof Deno.errors.NotADirectory) return "not a directory";
  if (cause instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (cause instanceof Error) return cause.message;
  return "unknown error";
}

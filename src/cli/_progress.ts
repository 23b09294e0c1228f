/**
 * The progress display shared by `tfcache lock` and `tfcache providers install|mirror`: plain
 * lines always, and on a terminal one status line at the bottom, redrawn in place (`\r\x1b[K`)
 * at most ten times a second. Each command keeps its own wording; this module only draws.
 *
 * @module
 */

/** Where the output goes and whether it is a terminal. */
export interface ProgressTarget {
  /** Writes text as is (no newline added). */
  readonly write: (text: string) => void;
  /** Whether a status line may be drawn (the output is a terminal). */
  readonly tty: boolean;
  /** Width the status line is cut to. */
  readonly columns: number;
}

/** What a {@linkcode StatusLine} shows. */
export interface StatusSource {
  /** Whether there is anything to show (nothing is drawn otherwise). */
  active(): boolean;
  /** The status line's text (it is cut to the width). */
  render(): string;
}

/** Options for {@linkcode StatusLine}. */
export interface StatusLineOptions extends ProgressTarget {
  /** Clock in milliseconds (injectable for tests); default `performance.now`. */
  readonly now?: (() => number) | undefined;
  /** Least time between two redraws that are not forced (default 100 ms). */
  readonly intervalMs?: number | undefined;
}

/**
 * A {@linkcode ProgressTarget} for standard output or standard error: a status line only when it
 * is a terminal, as wide as the terminal.
 *
 * @param stream `Deno.stdout` or `Deno.stderr`.
 * @param defaultColumns The width when the console size is unknown.
 * @returns The target.
 */
export function consoleTarget(
  stream: typeof Deno.stdout | typeof Deno.stderr,
  defaultColumns: number,
): ProgressTarget {
  const encoder = new TextEncoder();
  let tty = false;
  let columns = defaultColumns;
  try {
    tty = stream.isTerminal();
    if (tty) columns = Deno.consoleSize().columns;
  } catch {
    // Not a console: plain lines only.
  }
  return {
    write: (text) => {
      const bytes = encoder.encode(text);
      let written = 0;
      while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
    },
    tty,
    columns,
  };
}

/**
 * Formats a byte count with one decimal, in decimal units (`12.3 MB`) or binary ones
 * (`12.3 MiB`).
 *
 * @param bytes A byte count.
 * @param binary `true` for KiB/MiB/…, `false` for kB/MB/….
 * @returns The text.
 * @example Usage
 * ```ts
 * import { formatByteSize } from "./_progress.ts";
 * console.assert(formatByteSize(1536, true) === "1.5 KiB");
 * console.assert(formatByteSize(1500, false) === "1.5 kB");
 * ```
 */
export function formatByteSize(bytes: number, binary: boolean): string {
  const base = binary ? 1024 : 1000;
  const units = binary ? ["KiB", "MiB", "GiB", "TiB"] : ["kB", "MB", "GB", "TB"];
  if (bytes < base) return `${bytes} B`;
  let value = bytes / base;
  let unit = 0;
  while (value >= base && unit < units.length - 1) {
    value /= base;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * Cuts a line to fit in `columns` (leaving the last column free), ending it with `…` when cut.
 *
 * @param text The line.
 * @param columns The terminal width.
 * @returns The line, at most `columns - 1` characters long.
 */
export function fitColumns(text: string, columns: number): string {
  return text.length < columns ? text : `${text.slice(0, columns - 2)}…`;
}

/** Plain lines plus a throttled status line below them (see the module documentation). */
export class StatusLine {
  readonly #write: (text: string) => void;
  readonly #tty: boolean;
  readonly #columns: number;
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #source: StatusSource;
  #shown = false;
  #lastDraw = Number.NEGATIVE_INFINITY;

  /**
   * @param options Output, terminal flag, width, clock and redraw interval.
   * @param source What the status line shows.
   */
  constructor(options: StatusLineOptions, source: StatusSource) {
    this.#write = options.write;
    this.#tty = options.tty;
    this.#columns = Math.max(20, options.columns);
    this.#now = options.now ?? (() => performance.now());
    this.#intervalMs = options.intervalMs ?? 100;
    this.#source = source;
  }

  /** The width the status line is cut to (at least 20). */
  get columns(): number {
    return this.#columns;
  }

  /**
   * Prints one line above the status line (the status line is redrawn below it).
   *
   * @param text The line, without a newline.
   */
  print(text: string): void {
    this.erase();
    this.#write(`${text}\n`);
    this.draw(true);
  }

  /**
   * Redraws the status line: only on a terminal, only when the source is active, and (unless
   * `force`) only when the last redraw is at least the interval ago.
   *
   * @param force Redraw even within the interval.
   */
  draw(force: boolean): void {
    if (!this.#tty || !this.#source.active()) return;
    const now = this.#now();
    if (!force && now - this.#lastDraw < this.#intervalMs) return;
    this.#lastDraw = now;
    this.#write(`\r\x1b[K${fitColumns(this.#source.render(), this.#columns)}`);
    this.#shown = true;
  }

  /** Removes the status line, when one is shown. */
  erase(): void {
    if (this.#shown) this.#write("\r\x1b[K");
    this.#shown = false;
  }
}

/**
 * Output of `tfcache providers install` and `tfcache providers mirror`: plain lines (one per
 * event, as terraform prints them) always, and on a terminal one extra status line at the bottom
 * showing the downloads in flight, redrawn in place (`\r\x1b[K`) at most ten times a second.
 *
 * @module
 */

/** Options for {@linkcode ProvidersOutput}. */
export interface ProvidersOutputOptions {
  /** Writes text as is (no newline added). */
  write: (text: string) => void;
  /** Whether a status line may be drawn (the output is a terminal). */
  terminal: boolean;
  /** Clock in milliseconds (injectable for tests); default `performance.now`. */
  now?: () => number;
  /** Least time between two redraws of the status line (default 100 ms). */
  redrawIntervalMs?: number;
  /** Width the status line is cut to (default 80). */
  columns?: number;
}

interface _Download {
  readonly label: string;
  received: number;
  total: number | undefined;
}

/**
 * Renders a byte count with binary units, e.g. `12.5 MiB`.
 *
 * @param bytes A byte count.
 * @returns The text.
 * @example
 * ```ts
 * import { formatByteCount } from "./providers_progress.ts";
 * console.assert(formatByteCount(1536) === "1.5 KiB");
 * ```
 */
export function formatByteCount(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Line output plus a throttled status line of the downloads in flight (see the module doc). */
export class ProvidersOutput {
  readonly #write: (text: string) => void;
  readonly #terminal: boolean;
  readonly #now: () => number;
  readonly #interval: number;
  readonly #columns: number;
  readonly #downloads = new Map<string, _Download>();
  #statusShown = false;
  #lastDrawAt = Number.NEGATIVE_INFINITY;

  /**
   * @param options Sink, terminal flag, clock, redraw interval and width.
   */
  constructor(options: ProvidersOutputOptions) {
    this.#write = options.write;
    this.#terminal = options.terminal;
    this.#now = options.now ?? (() => performance.now());
    this.#interval = options.redrawIntervalMs ?? 100;
    this.#columns = Math.max(20, options.columns ?? 80);
  }

  /**
   * An output on standard output; the status line is drawn only when it is a terminal.
   *
   * @returns The output.
   */
  static forStdout(): ProvidersOutput {
    const encoder = new TextEncoder();
    let terminal = false;
    let columns = 80;
    try {
      terminal = Deno.stdout.isTerminal();
      if (terminal) columns = Deno.consoleSize().columns;
    } catch {
      // Not a console: plain lines only.
    }
    return new ProvidersOutput({
      write: (text) => {
        const bytes = encoder.encode(text);
        let written = 0;
        while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
      },
      terminal,
      columns,
    });
  }

  /**
   * Prints one line above the status line.
   *
   * @param text The line, without a newline.
   */
  line(text: string): void {
    this.#erase();
    this.#write(`${text}\n`);
    this.#draw(true);
  }

  /**
   * A download started.
   *
   * @param id Unique key of the download.
   * @param label What is downloaded, e.g. `tfcache/alpha 1.1.0`.
   * @param total Size in bytes, when known.
   */
  downloadStarted(id: string, label: string, total: number | undefined): void {
    this.#downloads.set(id, { label, received: 0, total });
    this.#draw(true);
  }

  /**
   * Bytes arrived for a download.
   *
   * @param id The download's key.
   * @param received Bytes received so far.
   */
  downloadProgress(id: string, received: number): void {
    const d = this.#downloads.get(id);
    if (d === undefined) return;
    d.received = received;
    this.#draw(false);
  }

  /**
   * A download ended (successfully or not).
   *
   * @param id The download's key.
   */
  downloadEnded(id: string): void {
    if (!this.#downloads.delete(id)) return;
    if (this.#downloads.size === 0) this.#erase();
    else this.#draw(true);
  }

  /** Removes the status line (call before exiting). */
  close(): void {
    this.#downloads.clear();
    this.#erase();
  }

  /** The status line as it would be drawn now (empty when nothing is in flight). */
  statusText(): string {
    if (this.#downloads.size === 0) return "";
    const parts = [...this.#downloads.values()].map((d) =>
      d.total !== undefined && d.total > 0
        ? `${d.label} ${Math.min(100, Math.floor((d.received * 100) / d.total))}%`
        : `${d.label} ${formatByteCount(d.received)}`
    );
    const text = `  downloading ${parts.join(", ")}`;
    return text.length < this.#columns ? text : `${text.slice(0, this.#columns - 2)}…`;
  }

  #erase(): void {
    if (this.#statusShown) this.#write("\r\x1b[K");
    this.#statusShown = false;
  }

  #draw(force: boolean): void {
    if (!this.#terminal || this.#downloads.size === 0) return;
    const now = this.#now();
    if (!force && now - this.#lastDrawAt < this.#interval) return;
    this.#lastDrawAt = now;
    this.#write(`\r\x1b[K${this.statusText()}`);
    this.#statusShown = true;
  }
}

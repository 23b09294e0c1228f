/**
 * Output of `tfcache providers install` and `tfcache providers mirror`: plain lines (one per
 * event, as terraform prints them) always, and on a terminal one extra status line at the bottom
 * showing the downloads in flight, redrawn in place (`\r\x1b[K`) at most ten times a second.
 *
 * @module
 */

import { consoleTarget, fitColumns, formatByteSize, StatusLine } from "./_progress.ts";

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
  return formatByteSize(bytes, true);
}

/** Line output plus a throttled status line of the downloads in flight (see the module doc). */
export class ProvidersOutput {
  readonly #status: StatusLine;
  readonly #downloads = new Map<string, _Download>();

  /**
   * @param options Sink, terminal flag, clock, redraw interval and width.
   */
  constructor(options: ProvidersOutputOptions) {
    this.#status = new StatusLine({
      write: options.write,
      tty: options.terminal,
      now: options.now,
      intervalMs: options.redrawIntervalMs,
      columns: options.columns ?? 80,
    }, {
      active: () => this.#downloads.size > 0,
      render: () => this.statusText(),
    });
  }

  /**
   * An output on standard output; the status line is drawn only when it is a terminal.
   *
   * @returns The output.
   */
  static forStdout(): ProvidersOutput {
    const { write, tty, columns } = consoleTarget(Deno.stdout, 80);
    return new ProvidersOutput({ write, terminal: tty, columns });
  }

  /**
   * Prints one line above the status line.
   *
   * @param text The line, without a newline.
   */
  line(text: string): void {
    this.#status.print(text);
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
    this.#status.draw(true);
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
    this.#status.draw(false);
  }

  /**
   * A download ended (successfully or not).
   *
   * @param id The download's key.
   */
  downloadEnded(id: string): void {
    if (!this.#downloads.delete(id)) return;
    if (this.#downloads.size === 0) this.#status.erase();
    else this.#status.draw(true);
  }

  /** Removes the status line (call before exiting). */
  close(): void {
    this.#downloads.clear();
    this.#status.erase();
  }

  /** The status line as it would be drawn now (empty when nothing is in flight). */
  statusText(): string {
    if (this.#downloads.size === 0) return "";
    const parts = [...this.#downloads.values()].map((d) =>
      d.total !== undefined && d.total > 0
        ? `${d.label} ${Math.min(100, Math.floor((d.received * 100) / d.total))}%`
        : `${d.label} ${formatByteCount(d.received)}`
    );
    return fitColumns(`  downloading ${parts.join(", ")}`, this.#status.columns);
  }
}

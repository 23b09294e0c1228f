/**
 * Progress display for `tfcache lock`: on a terminal one status line redrawn in place
 * (`\r\x1b[K`, at most ~10 times a second) above which each finished package is printed; when
 * not a terminal, only the plain per-package lines.
 *
 * @module
 */

/** Receives progress events from the lock run. */
export interface ProgressSink {
  /** A package fetch started. */
  start(id: string, label: string): void;
  /** Bytes received so far for a package (`total` when the size is known). */
  progress(id: string, bytes: number, total: number | undefined): void;
  /** A package is done; `line` is printed as is. */
  finish(id: string, line: string): void;
  /** A line that is not about one package. */
  message(line: string): void;
  /** Clears the status line. */
  close(): void;
}

/** Options for {@linkcode LockProgress}. */
export interface LockProgressOptions {
  /** Writes text (no newline added). */
  write: (text: string) => void;
  /** Whether the output is a terminal (status line) or not (plain lines). */
  tty: boolean;
  /** Clock in ms (injectable for tests). */
  now?: () => number;
  /** Least time between redraws (default 100 ms). */
  intervalMs?: number;
  /** Terminal width (default 100). */
  columns?: number;
}

interface _Task {
  label: string;
  bytes: number;
  total: number | undefined;
}

/**
 * Formats a byte count in decimal units, e.g. `12.3 MB`.
 *
 * @param n Bytes.
 * @returns The text.
 */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = n / 1000;
  let i = 0;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i++;
  }
  return `${value.toFixed(1)} ${units[i]}`;
}

/** The terminal renderer (see the module documentation). */
export class LockProgress implements ProgressSink {
  readonly #write: (text: string) => void;
  readonly #tty: boolean;
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #columns: number;
  readonly #active = new Map<string, _Task>();
  #started = 0;
  #done = 0;
  #doneBytes = 0;
  #lastDraw = -Infinity;
  #drawn = false;

  /**
   * @param options Output, terminal flag, clock and redraw interval.
   */
  constructor(options: LockProgressOptions) {
    this.#write = options.write;
    this.#tty = options.tty;
    this.#now = options.now ?? (() => performance.now());
    this.#intervalMs = options.intervalMs ?? 100;
    this.#columns = Math.max(20, options.columns ?? 100);
  }

  /** Creates a renderer for standard error. */
  static forStderr(): LockProgress {
    const encoder = new TextEncoder();
    let tty = false;
    let columns = 100;
    try {
      tty = Deno.stderr.isTerminal();
      if (tty) columns = Deno.consoleSize().columns;
    } catch {
      // Not a console: plain lines.
    }
    return new LockProgress({
      write: (text) => {
        Deno.stderr.writeSync(encoder.encode(text));
      },
      tty,
      columns,
    });
  }

  /** {@inheritDoc ProgressSink.start} */
  start(id: string, label: string): void {
    this.#active.set(id, { label, bytes: 0, total: undefined });
    this.#started++;
    this.#draw(true);
  }

  /** {@inheritDoc ProgressSink.progress} */
  progress(id: string, bytes: number, total: number | undefined): void {
    const task = this.#active.get(id);
    if (task === undefined) return;
    task.bytes = bytes;
    task.total = total;
    this.#draw(false);
  }

  /** {@inheritDoc ProgressSink.finish} */
  finish(id: string, line: string): void {
    const task = this.#active.get(id);
    if (task !== undefined) {
      this.#done++;
      this.#doneBytes += task.bytes;
      this.#active.delete(id);
    }
    this.message(line);
  }

  /** {@inheritDoc ProgressSink.message} */
  message(line: string): void {
    this.#clear();
    this.#write(`${line}\n`);
    this.#draw(true);
  }

  /** {@inheritDoc ProgressSink.close} */
  close(): void {
    this.#clear();
  }

  #clear(): void {
    if (this.#tty && this.#drawn) this.#write("\r\x1b[K");
    this.#drawn = false;
  }

  #draw(force: boolean): void {
    if (!this.#tty || this.#active.size === 0) return;
    const now = this.#now();
    if (!force && now - this.#lastDraw < this.#intervalMs) return;
    this.#lastDraw = now;
    let bytes = this.#doneBytes;
    for (const t of this.#active.values()) bytes += t.bytes;
    const parts = [...this.#active.values()].map((t) =>
      t.total !== undefined && t.total > 0
        ? `${t.label} ${Math.floor((100 * t.bytes) / t.total)}%`
        : `${t.label} ${formatBytes(t.bytes)}`
    );
    let line = `  fetching [${this.#done}/${this.#started} done, ${formatBytes(bytes)}] ${
      parts.join(", ")
    }`;
    if (line.length > this.#columns - 1) line = `${line.slice(0, this.#columns - 2)}…`;
    this.#write(`\r\x1b[K${line}`);
    this.#drawn = true;
  }
}

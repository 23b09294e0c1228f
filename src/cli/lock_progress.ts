/**
 * Progress display for `tfcache lock`: on a terminal one status line redrawn in place
 * (`\r\x1b[K`, at most ~10 times a second) above which each finished package is printed; when
 * not a terminal, only the plain per-package lines.
 *
 * @module
 */

import { consoleTarget, formatByteSize, StatusLine, type StatusLineOptions } from "./_progress.ts";

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

/** Options for {@linkcode LockProgress}: output, terminal flag, clock and redraw interval. */
export interface LockProgressOptions extends Omit<StatusLineOptions, "columns"> {
  /** Terminal width (default 100). */
  readonly columns?: number | undefined;
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
  return formatByteSize(n, false);
}

/** The terminal renderer (see the module documentation). */
export class LockProgress implements ProgressSink {
  readonly #status: StatusLine;
  readonly #active = new Map<string, _Task>();
  #started = 0;
  #done = 0;
  #doneBytes = 0;

  /**
   * @param options Output, terminal flag, clock and redraw interval.
   */
  constructor(options: LockProgressOptions) {
    this.#status = new StatusLine({ ...options, columns: options.columns ?? 100 }, {
      active: () => this.#active.size > 0,
      render: () => this.#render(),
    });
  }

  /** Creates a renderer for standard error. */
  static forStderr(): LockProgress {
    return new LockProgress(consoleTarget(Deno.stderr, 100));
  }

  /** {@inheritDoc ProgressSink.start} */
  start(id: string, label: string): void {
    this.#active.set(id, { label, bytes: 0, total: undefined });
    this.#started++;
    this.#status.draw(true);
  }

  /** {@inheritDoc ProgressSink.progress} */
  progress(id: string, bytes: number, total: number | undefined): void {
    const task = this.#active.get(id);
    if (task === undefined) return;
    task.bytes = bytes;
    task.total = total;
    this.#status.draw(false);
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
    this.#status.print(line);
  }

  /** {@inheritDoc ProgressSink.close} */
  close(): void {
    this.#status.erase();
  }

  #render(): string {
    let bytes = this.#doneBytes;
    for (const t of this.#active.values()) bytes += t.bytes;
    const parts = [...this.#active.values()].map((t) =>
      t.total !== undefined && t.total > 0
        ? `${t.label} ${Math.floor((100 * t.bytes) / t.total)}%`
        : `${t.label} ${formatBytes(t.bytes)}`
    );
    return `  fetching [${this.#done}/${this.#started} done, ${formatBytes(bytes)}] ${
      parts.join(", ")
    }`;
  }
}

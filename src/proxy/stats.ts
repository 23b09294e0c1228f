/**
 * Per-run cache counters and the one-line savings report.
 *
 * @module
 */

/** A plain snapshot of {@linkcode CacheStats}. */
export interface CacheStatsSnapshot {
  /** Requests served from the store without a fill (lock-free hits). */
  hits: number;
  /** Bytes delivered to clients on hits (partial transfers count partially). */
  bytesSaved: number;
  /** Fills that reached upstream (committed, or an upstream non-2xx answer). */
  misses: number;
  /** Objects committed to the store by fills. */
  objectsCached: number;
  /** Bytes committed to the store by fills. */
  bytesCached: number;
  /** Upstream requests made (fills, passthrough, `produce` calls through the fetch). */
  upstreamRequests: number;
  /** Upstream body bytes read by fills and passthrough responses. */
  upstreamBytes: number;
  /** Requests answered with an error the cache produced (4xx/5xx not replayed from upstream). */
  errors: number;
  /** Responses served from a stale copy (stale-while-revalidate or stale-if-error). */
  staleServed: number;
  /** Background revalidations started. */
  revalidations: number;
}

const UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB"] as const;

/**
 * Formats a byte count with SI (base 1000) units: `512 B`, `1.0 kB`, `28 MB`.
 *
 * @param bytes A non-negative byte count.
 * @returns The count rounded to one decimal below 10 units, to an integer from 10 on.
 */
export function formatBytes(bytes: number): string {
  if (bytes < 10) return `${bytes} B`;
  const exponent = Math.min(Math.floor(Math.log(bytes) / Math.log(1000)), UNITS.length - 1);
  const value = Math.floor((bytes / 1000 ** exponent) * 10 + 0.5) / 10;
  const shown = value < 10 ? value.toFixed(1) : value.toFixed(0);
  return `${shown} ${UNITS[exponent]}`;
}

function plural(count: number, singular: string): string {
  return `${count} ${singular}${count === 1 ? "" : "s"}`;
}

/** Mutable per-run counters. Never persisted. */
export class CacheStats implements CacheStatsSnapshot {
  /** See {@linkcode CacheStatsSnapshot.hits}. */
  hits = 0;
  /** See {@linkcode CacheStatsSnapshot.bytesSaved}. */
  bytesSaved = 0;
  /** See {@linkcode CacheStatsSnapshot.misses}. */
  misses = 0;
  /** See {@linkcode CacheStatsSnapshot.objectsCached}. */
  objectsCached = 0;
  /** See {@linkcode CacheStatsSnapshot.bytesCached}. */
  bytesCached = 0;
  /** See {@linkcode CacheStatsSnapshot.upstreamRequests}. */
  upstreamRequests = 0;
  /** See {@linkcode CacheStatsSnapshot.upstreamBytes}. */
  upstreamBytes = 0;
  /** See {@linkcode CacheStatsSnapshot.errors}. */
  errors = 0;
  /** See {@linkcode CacheStatsSnapshot.staleServed}. */
  staleServed = 0;
  /** See {@linkcode CacheStatsSnapshot.revalidations}. */
  revalidations = 0;

  /**
   * One human line, e.g. `28 MB saved (16 hits); 1.0 kB downloaded and cached (1 object)`.
   *
   * @returns The report, or an empty string when nothing was saved or cached.
   */
  formatReport(): string {
    const parts: string[] = [];
    if (this.bytesSaved > 0) {
      parts.push(`${formatBytes(this.bytesSaved)} saved (${plural(this.hits, "hit")})`);
    }
    if (this.bytesCached > 0) {
      parts.push(
        `${formatBytes(this.bytesCached)} downloaded and cached (${
          plural(this.objectsCached, "object")
        })`,
      );
    }
    return parts.join("; ");
  }

  /**
   * A plain copy of the counters (used by `JSON.stringify`).
   *
   * @returns The snapshot.
   */
  toJSON(): CacheStatsSnapshot {
    return {
      hits: this.hits,
      bytesSaved: this.bytesSaved,
      misses: this.misses,
      objectsCached: this.objectsCached,
      bytesCached: this.bytesCached,
      upstreamRequests: this.upstreamRequests,
      upstreamBytes: this.upstreamBytes,
      errors: this.errors,
      staleServed: this.staleServed,
      revalidations: this.revalidations,
    };
  }
}

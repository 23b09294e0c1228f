/**
 * Durations and byte sizes as `tfcache cache` reads and prints them: `90m`, `12h`, `7d`;
 * `10GB`, `512MiB`; SI output (`1.5 GB`).
 *
 * @module
 */

const DURATION_UNITS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60 * 1000,
  h: 60 * 60 * 1000,
  d: 24 * 60 * 60 * 1000,
  w: 7 * 24 * 60 * 60 * 1000,
};

const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/**
 * Parses a duration made of `<integer><unit>` parts, units `s`, `m`, `h`, `d` and `w`.
 *
 * @param text For example `90m`, `12h`, `7d` or `1d12h`.
 * @returns The duration in milliseconds, or `undefined` when `text` is not a duration.
 * @example
 * ```ts
 * parseDuration("1d12h"); // 129600000
 * parseDuration("7 days"); // undefined
 * ```
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim().toLowerCase();
  if (!/^(\d+[smhdw])+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhdw])/g)) {
    total += Number(amount) * (DURATION_UNITS[unit ?? ""] ?? Number.NaN);
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/**
 * Parses a byte size: a number with an optional SI (`kB`, `MB`, `GB`, `TB`, powers of 1000) or
 * binary (`KiB`, `MiB`, `GiB`, `TiB`) unit, case-insensitive.
 *
 * @param text For example `10GB`, `1.5 GB`, `512MiB` or `1000000`.
 * @returns The size in bytes (rounded down), or `undefined` when `text` is not a size.
 * @example
 * ```ts
 * parseSize("10GB"); // 10000000000
 * parseSize("2MiB"); // 2097152
 * ```
 */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(text.trim().toLowerCase());
  if (match === null) return undefined;
  const factor = SIZE_UNITS[match[2] ?? ""];
  if (factor === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * factor);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/**
 * Formats a byte count with SI units (powers of 1000), three significant digits.
 *
 * @param bytes A non-negative byte count.
 * @returns For example `532 B`, `12.3 kB`, `1.50 GB`.
 * @example
 * ```ts
 * formatSize(1_500_000_000); // "1.50 GB"
 * ```
 */
export function formatSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB", "TB", "PB"];
  let value = bytes;
  let unit = "B";
  for (const next of units) {
    if (value < 999.5) break;
    value /= 1000;
    unit = next;
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit}`;
}

/**
 * Formats a duration in milliseconds as the largest whole units, e.g. `7d`, `1d12h`, `90m`.
 *
 * @param ms A non-negative duration.
 * @returns The duration in the form {@linkcode parseDuration} reads.
 */
export function formatDuration(ms: number): string {
  if (ms <= 0) return "0s";
  const parts: string[] = [];
  let rest = Math.floor(ms / 1000) * 1000;
  for (const unit of ["d", "h", "m", "s"]) {
    const size = DURATION_UNITS[unit] ?? 1;
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.length > 0 ? parts.join("") : "0s";
}

/**
 * Formats a time as ISO 8601 in UTC to the second, e.g. `2026-06-07T05:35:29Z`.
 *
 * @param date The time.
 * @returns The formatted time.
 */
export function formatTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Durations and sizes of `tfcache cache`. */

import assert from "node:assert/strict";
import { formatDuration, formatSize, parseDuration, parseSize } from "../../src/cli/cache_units.ts";

Deno.test("parseDuration reads 90m, 12h, 7d, 2w and combinations; refuses the rest", () => {
  assert.equal(parseDuration("90m"), 90 * 60_000);
  assert.equal(parseDuration("12h"), 12 * 3_600_000);
  assert.equal(parseDuration("7d"), 7 * 86_400_000);
  assert.equal(parseDuration("2w"), 14 * 86_400_000);
  assert.equal(parseDuration("1d12h"), 36 * 3_600_000);
  assert.equal(parseDuration("30s"), 30_000);
  for (const bad of ["", "7", "d", "7 days", "-1d", "1.5h", "7y"]) {
    assert.equal(parseDuration(bad), undefined, bad);
  }
});

Deno.test("parseSize reads SI and binary units, case-insensitively", () => {
  assert.equal(parseSize("10GB"), 10_000_000_000);
  assert.equal(parseSize("1.5 gb"), 1_500_000_000);
  assert.equal(parseSize("500MB"), 500_000_000);
  assert.equal(parseSize("4kB"), 4000);
  assert.equal(parseSize("2GiB"), 2 * 1024 ** 3);
  assert.equal(parseSize("1000"), 1000);
  for (const bad of ["", "GB", "10 XB", "-1GB", "ten"]) {
    assert.equal(parseSize(bad), undefined, bad);
  }
});

Deno.test("formatSize prints three significant digits in SI units", () => {
  assert.equal(formatSize(0), "0 B");
  assert.equal(formatSize(999), "999 B");
  assert.equal(formatSize(1000), "1.00 kB");
  assert.equal(formatSize(12_345), "12.3 kB");
  assert.equal(formatSize(999_600), "1.00 MB");
  assert.equal(formatSize(1_500_000_000), "1.50 GB");
});

Deno.test("formatDuration prints what parseDuration reads", () => {
  assert.equal(formatDuration(7 * 86_400_000), "7d");
  assert.equal(formatDuration(36 * 3_600_000), "1d12h");
  assert.equal(formatDuration(90 * 60_000), "1h30m");
  assert.equal(formatDuration(0), "0s");
});

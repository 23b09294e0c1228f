import assert from "node:assert/strict";
import { CacheStats, formatBytes } from "../../src/proxy/stats.ts";

Deno.test("formatBytes uses SI units like go-humanize", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(9), "9 B");
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1024), "1.0 kB");
  assert.equal(formatBytes(2048), "2.0 kB");
  assert.equal(formatBytes(28_000_000), "28 MB");
  assert.equal(formatBytes(1_550_000), "1.6 MB");
  assert.equal(formatBytes(3_000_000_000), "3.0 GB");
});

Deno.test("CacheStats formats the report and serialises counters", () => {
  const stats = new CacheStats();
  assert.equal(stats.formatReport(), "");
  stats.bytesCached = 1024;
  stats.objectsCached = 1;
  assert.equal(stats.formatReport(), "1.0 kB downloaded and cached (1 object)");
  stats.hits = 16;
  stats.bytesSaved = 28_000_000;
  assert.equal(
    stats.formatReport(),
    "28 MB saved (16 hits); 1.0 kB downloaded and cached (1 object)",
  );
  stats.hits = 1;
  stats.bytesCached = 0;
  assert.equal(stats.formatReport(), "28 MB saved (1 hit)");
  const json = JSON.parse(JSON.stringify(stats));
  assert.deepEqual(Object.keys(json).sort(), [
    "bytesCached",
    "bytesSaved",
    "errors",
    "hits",
    "misses",
    "objectsCached",
    "revalidations",
    "staleServed",
    "upstreamBytes",
    "upstreamRequests",
  ]);
  assert.equal(json.hits, 1);
});

/**
 * End-to-end benchmark of the caching proxy on loopback. Every figure is printed next to a
 * baseline measured in the same run, and the ratio between the two, because absolute numbers
 * on a shared 2-core VM swing by ±30% (see `reference-deno.md` §1).
 *
 * 1. Warm hits of a 256 MiB random object through the cache handler over HTTP (`Deno.serve`)
 *    and HTTPS (`node:https`), against reading the cached file from disk with 1 MiB reads.
 * 2. 2 KiB metadata hits, sequential over one reused connection: p50/p99 and requests/s over
 *    HTTPS (`node:https`, `TCP_NODELAY`) against plain HTTP, plus a few over `Deno.serve`'s own
 *    TLS listener to record the Nagle stall the `node:https` front end avoids.
 * 3. Cold fills of the 256 MiB object from a loopback upstream (miss → fetch → hash → temp file →
 *    fsync → rename → serve), against downloading it directly from that upstream.
 *
 * The peak RSS of this (the cache) process is sampled during the big transfers to show that
 * memory stays flat. The upstream runs in its own process (`_support/upstream_server.ts`); the
 * client is `curl` when it is on `PATH`, else `fetch`. Everything binds to 127.0.0.1 and lives
 * in one temporary directory that is removed at the end.
 *
 * Run: `deno task bench` (`deno run --allow-all bench/proxy_bench.ts`). It needs read/write on
 * the temporary directory, net on 127.0.0.1 and run for `curl` and `deno`. Set
 * `TFCACHE_BENCH_CLIENT=fetch` to force the `fetch` client.
 *
 * @module
 */

import { randomFillSync } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createCacheHandler } from "../src/proxy/cache_handler.ts";
import { FileStore } from "../src/proxy/file_store.ts";
import { serveHttp } from "../src/proxy/http_server.ts";
import { serveHttps } from "../src/proxy/https_server.ts";
import { ensureServerCertificate } from "../src/proxy/tls.ts";
import { createUpstreamClient } from "../src/proxy/upstream.ts";
import { benchMirror } from "./_support/bench_mirror.ts";
import { type BenchClient, createBenchClient, type Transfer } from "./_support/client.ts";
import { META_SIZE } from "./_support/upstream_server.ts";

const MiB = 1024 * 1024;
const OBJECT_SIZE = 256 * MiB;
const WARM_REPS = 5;
const COLD_REPS = 3;
const META_REQUESTS = 2000;
const STALL_REQUESTS = 10;
const RSS_SAMPLE_MS = 5;

/** Median and range of a series. */
interface Summary {
  median: number;
  min: number;
  max: number;
}

/** Peak RSS over one or more sampled phases. */
interface RssRecord {
  start: number;
  peak: number;
}

function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: percentile(sorted, 50),
    min: sorted[0] ?? NaN,
    max: sorted.at(-1) ?? NaN,
  };
}

/** Nearest-rank percentile of an ascending series. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

function mbps(bytes: number, seconds: number): number {
  return bytes / seconds / 1e6;
}

/** Samples `Deno.memoryUsage().rss` on a timer while a phase runs. */
class RssSampler {
  #peak = 0;
  #start = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  start(): void {
    this.#start = Deno.memoryUsage().rss;
    this.#peak = this.#start;
    this.#timer = setInterval(() => {
      this.#peak = Math.max(this.#peak, Deno.memoryUsage().rss);
    }, RSS_SAMPLE_MS);
  }

  stop(): RssRecord {
    clearInterval(this.#timer);
    this.#peak = Math.max(this.#peak, Deno.memoryUsage().rss);
    return { start: this.#start, peak: this.#peak };
  }
}

/** Runs `phase` under an RSS sampler and folds the result into `into`. */
async function sampled<T>(into: RssRecord[], phase: () => Promise<T>): Promise<T> {
  const sampler = new RssSampler();
  sampler.start();
  try {
    return await phase();
  } finally {
    into.push(sampler.stop());
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) offset += await file.write(bytes.subarray(offset));
}

/** Writes `size` random bytes to `path` in 1 MiB blocks (node:crypto fills at ~GB/s). */
async function writeRandomFile(path: string, size: number): Promise<void> {
  using file = await Deno.open(path, { write: true, createNew: true });
  const block = new Uint8Array(MiB);
  for (let written = 0; written < size; written += block.byteLength) {
    randomFillSync(block);
    await writeAll(file, block.subarray(0, Math.min(block.byteLength, size - written)));
  }
}

/** Writes `size` bytes to a new file in 1 MiB blocks, then `fdatasync`s it; returns MB/s. */
async function diskWriteSync(path: string, size: number): Promise<number> {
  const block = new Uint8Array(MiB);
  randomFillSync(block);
  const start = performance.now();
  {
    using file = await Deno.open(path, { write: true, createNew: true });
    for (let written = 0; written < size; written += block.byteLength) await writeAll(file, block);
    await file.syncData();
  }
  const seconds = (performance.now() - start) / 1000;
  await Deno.remove(path);
  return mbps(size, seconds);
}

/** Reads `path` into a reused 1 MiB buffer; returns MB/s. */
async function diskRead(path: string): Promise<number> {
  const start = performance.now();
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(MiB);
  let total = 0;
  while (true) {
    const n = await file.read(buffer);
    if (n === null) break;
    total += n;
  }
  const seconds = (performance.now() - start) / 1000;
  if (total !== OBJECT_SIZE) {
    throw new Error(`Read ${total} bytes from "${path}", not ${OBJECT_SIZE}`);
  }
  return mbps(total, seconds);
}

/** Downloads `url` and checks that the whole object arrived. */
async function bigDownload(client: BenchClient, url: string): Promise<number> {
  const transfer = await client.download(url);
  if (transfer.status !== 200 || transfer.bytes !== OBJECT_SIZE) {
    throw new Error(
      `Download of "${url}" answered ${transfer.status} with ${transfer.bytes} bytes, not 200 with ${OBJECT_SIZE}`,
    );
  }
  return mbps(transfer.bytes, transfer.seconds);
}

/** Latency figures of sequential runs (each run's first, connection-opening request excluded). */
interface LatencyResult {
  runs: number;
  count: number;
  firstMs: number;
  p50Ms: number;
  p99Ms: number;
  requestsPerSecond: number;
}

/** Requests `url` `count` times over one connection and checks every answer. */
async function sequentialRun(client: BenchClient, url: string, count: number): Promise<Transfer[]> {
  const transfers = await client.sequential(url, count);
  const bad = transfers.find((t) => t.status !== 200 || t.bytes !== META_SIZE);
  if (transfers.length !== count || bad !== undefined) {
    throw new Error(
      `Sequential run on "${url}" returned ${transfers.length}/${count} transfers; first bad: ${
        JSON.stringify(bad)
      }`,
    );
  }
  const connects = transfers.reduce((sum, t) => sum + t.connects, 0);
  if (client.name === "curl" && connects !== 1) {
    throw new Error(`Sequential run on "${url}" opened ${connects} connections, not 1`);
  }
  return transfers;
}

/** Pools the runs, leaving out the first request of each. */
function latency(runs: readonly Transfer[][]): LatencyResult {
  const firsts = runs.map((run) => (run[0]?.seconds ?? NaN) * 1000);
  const rest = runs.flatMap((run) => run.slice(1));
  const ms = rest.map((t) => t.seconds * 1000).sort((a, b) => a - b);
  const totalSeconds = rest.reduce((sum, t) => sum + t.seconds, 0);
  return {
    runs: runs.length,
    count: rest.length,
    firstMs: summarize(firsts).median,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
    requestsPerSecond: rest.length / totalSeconds,
  };
}

/** The upstream child process. */
interface UpstreamProcess {
  url: string;
  close(): Promise<void>;
}

async function startUpstreamProcess(file: string): Promise<UpstreamProcess> {
  const script = fileURLToPath(import.meta.resolve("./_support/upstream_server.ts"));
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-config",
      "--no-lock",
      `--allow-read=${file}`,
      "--allow-net=127.0.0.1",
      script,
      file,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const close = async () => {
    await lines.cancel().catch(() => {});
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await child.status;
  };
  try {
    let text = "";
    while (!text.includes("\n")) {
      const { done, value } = await lines.read();
      if (done) throw new Error("The upstream process exited before printing its port");
      text += value;
    }
    const { port } = JSON.parse(text.slice(0, text.indexOf("\n"))) as { port: number };
    return { url: `http://127.0.0.1:${port}/`, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function fmt(value: number, digits = 0): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "-";
}

function fmtSummary(s: Summary): string {
  return `${fmt(s.median)} [${fmt(s.min)}–${fmt(s.max)}]`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd())
    .join("\n");
}

/** One throughput comparison: subject and baseline MB/s per repetition (paired by index). */
interface Comparison {
  subject: string;
  baseline: string;
  subjectMbps: number[];
  baselineMbps: number[];
}

function comparisonRow(c: Comparison): string[] {
  const subject = summarize(c.subjectMbps);
  const baseline = summarize(c.baselineMbps);
  const paired = summarize(c.subjectMbps.map((v, i) => v / (c.baselineMbps[i] ?? NaN)));
  return [
    c.subject,
    fmtSummary(subject),
    c.baseline,
    fmtSummary(baseline),
    `${fmt(subject.median / baseline.median, 2)} [${fmt(paired.min, 2)}–${fmt(paired.max, 2)}]`,
  ];
}

function rssRow(phase: string, records: readonly RssRecord[]): string[] {
  const start = records[0]?.start ?? NaN;
  const peak = Math.max(...records.map((r) => r.peak));
  return [
    phase,
    fmt(start / MiB),
    records.map((r) => fmt(r.peak / MiB)).join(" / "),
    `+${fmt((peak - start) / MiB)}`,
  ];
}

async function main(): Promise<void> {
  const began = performance.now();
  const tmp = await Deno.makeTempDir({ prefix: "tfcache-bench-" });
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    const dataFile = `${tmp}/upstream.bin`;
    const generateStart = performance.now();
    await writeRandomFile(dataFile, OBJECT_SIZE);
    const generateSeconds = (performance.now() - generateStart) / 1000;

    const upstreamProcess = await startUpstreamProcess(dataFile);
    cleanups.push(() => upstreamProcess.close());

    const cacheRoot = `${tmp}/cache`;
    const certificate = await ensureServerCertificate(cacheRoot);
    const upstreamClient = createUpstreamClient();
    cleanups.push(() => upstreamClient.close());
    const handler = createCacheHandler({
      store: new FileStore(cacheRoot),
      mirrors: [benchMirror(upstreamProcess.url)],
      upstream: upstreamClient,
    });
    const handle = (request: Request) => handler.handle(request);
    const http = serveHttp({ handler });
    const https = await serveHttps({
      handler: handle,
      cert: certificate.certPem,
      key: certificate.keyPem,
    });
    const denoTls = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: certificate.certPem,
      key: certificate.keyPem,
      onListen() {},
    }, handle);
    // Run in reverse: servers stop after the handler has answered everyone waiting.
    cleanups.push(async () => {
      await handler.shutdown();
      await Promise.all([http.close(), https.close(), denoTls.shutdown()]);
    });
    const denoTlsUrl = `https://127.0.0.1:${denoTls.addr.port}/`;
    // The same front ends without the cache: `new Response(file.readable)` of the cached file.
    let rawFile = "";
    const serveRawFile = async (): Promise<Response> => {
      const file = await Deno.open(rawFile, { read: true });
      const { size } = await file.stat();
      return new Response(file.readable, { headers: { "content-length": String(size) } });
    };
    const rawHttp = serveHttp({ handler: serveRawFile });
    const rawHttps = await serveHttps({
      handler: serveRawFile,
      cert: certificate.certPem,
      key: certificate.keyPem,
    });
    cleanups.push(async () => {
      await Promise.all([rawHttp.close(), rawHttps.close()]);
    });

    const client = await createBenchClient({
      caFile: certificate.certPath,
      caPem: certificate.certPem,
      workDir: tmp,
      forceFetch: Deno.env.get("TFCACHE_BENCH_CLIENT") === "fetch",
    });
    cleanups.push(() => client.close());

    // 3. Cold fills (they also seed the object the warm hits read).
    const cold: Comparison = {
      subject: "cold fill via cache, HTTP",
      baseline: "direct from upstream",
      subjectMbps: [],
      baselineMbps: [],
    };
    const ceiling: Comparison = {
      subject: "cold fill via cache, HTTP",
      baseline: "disk write + fdatasync",
      subjectMbps: cold.subjectMbps,
      baselineMbps: [],
    };
    const rssCold: RssRecord[] = [];
    for (let rep = 0; rep < COLD_REPS; rep++) {
      ceiling.baselineMbps.push(await diskWriteSync(`${cacheRoot}/write-test.bin`, OBJECT_SIZE));
      cold.baselineMbps.push(await bigDownload(client, `${upstreamProcess.url}big.bin`));
      cold.subjectMbps.push(
        await sampled(rssCold, () => bigDownload(client, `${http.url}big/fill-${rep}.bin`)),
      );
    }
    if (handler.stats.misses !== COLD_REPS) {
      throw new Error(`Expected ${COLD_REPS} cache misses, counted ${handler.stats.misses}`);
    }

    // 1. Warm hits of the last filled object.
    const warmPath = `big/fill-${COLD_REPS - 1}.bin`;
    const warmFile = `${cacheRoot}/bench/fill-${COLD_REPS - 1}.bin`;
    const warmHttp: Comparison = {
      subject: "warm hit, HTTP (Deno.serve)",
      baseline: "disk read, 1 MiB buffer",
      subjectMbps: [],
      baselineMbps: [],
    };
    const warmHttps: Comparison = {
      subject: "warm hit, HTTPS (node:https)",
      baseline: "disk read, 1 MiB buffer",
      subjectMbps: [],
      baselineMbps: [],
    };
    const rawWarmHttp: Comparison = {
      subject: warmHttp.subject,
      baseline: "same front end, no cache",
      subjectMbps: warmHttp.subjectMbps,
      baselineMbps: [],
    };
    const rawWarmHttps: Comparison = {
      subject: warmHttps.subject,
      baseline: "same front end, no cache",
      subjectMbps: warmHttps.subjectMbps,
      baselineMbps: [],
    };
    rawFile = warmFile;
    const rssHttp: RssRecord[] = [];
    const rssHttps: RssRecord[] = [];
    for (let rep = 0; rep < WARM_REPS; rep++) {
      const disk = await diskRead(warmFile);
      warmHttp.baselineMbps.push(disk);
      warmHttps.baselineMbps.push(disk);
      rawWarmHttp.baselineMbps.push(await bigDownload(client, `${rawHttp.url}raw.bin`));
      rawWarmHttps.baselineMbps.push(await bigDownload(client, `${rawHttps.url.href}raw.bin`));
      warmHttp.subjectMbps.push(
        await sampled(rssHttp, () => bigDownload(client, `${http.url}${warmPath}`)),
      );
      warmHttps.subjectMbps.push(
        await sampled(rssHttps, () => bigDownload(client, `${https.url.href}${warmPath}`)),
      );
    }

    // 2. Metadata hits over one reused connection per front end.
    const metaPath = "meta/index.json";
    const prime = await client.download(`${http.url}${metaPath}`);
    if (prime.status !== 200 || prime.bytes !== META_SIZE) {
      throw new Error(`Priming "${metaPath}" answered ${prime.status} with ${prime.bytes} bytes`);
    }
    const hitsBefore = handler.stats.hits;
    // A-B-B-A order, so that drift in the machine's load hits both front ends alike.
    const httpRuns: Transfer[][] = [];
    const httpsRuns: Transfer[][] = [];
    for (const runs of [httpRuns, httpsRuns, httpsRuns, httpRuns]) {
      const base = runs === httpRuns ? http.url : https.url.href;
      runs.push(await sequentialRun(client, `${base}${metaPath}`, META_REQUESTS));
    }
    const metaHttp = latency(httpRuns);
    const metaHttps = latency(httpsRuns);
    const metaDenoTls = latency([
      await sequentialRun(client, `${denoTlsUrl}${metaPath}`, STALL_REQUESTS),
    ]);
    const expectedHits = 4 * META_REQUESTS + STALL_REQUESTS;
    if (handler.stats.hits - hitsBefore !== expectedHits) {
      throw new Error(
        `Expected ${expectedHits} metadata hits, counted ${handler.stats.hits - hitsBefore}`,
      );
    }

    const lines: string[] = [];
    lines.push(
      `tfcache proxy bench: Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs ` +
        `(load ${Deno.loadavg().map((l) => fmt(l, 2)).join(" ")}), client ${client.name}, ` +
        `object ${OBJECT_SIZE / MiB} MiB random (generated in ${fmt(generateSeconds, 2)} s)`,
    );
    lines.push("");
    lines.push(
      `Throughput, MB/s (10^6 B/s), median [min–max]; warm ${WARM_REPS} reps, cold ${COLD_REPS} reps; ` +
        "ratio = median/median [paired per-rep range]",
    );
    lines.push(table([
      ["measurement", "MB/s", "baseline", "MB/s", "ratio"],
      comparisonRow(warmHttp),
      comparisonRow(warmHttps),
      comparisonRow(rawWarmHttp),
      comparisonRow(rawWarmHttps),
      comparisonRow(cold),
      comparisonRow(ceiling),
    ]));
    lines.push("");
    lines.push(
      `Metadata hits (${META_SIZE} B JSON), sequential over one reused connection; ` +
        `${META_REQUESTS} per connection, runs in A-B-B-A order; each run's first (connecting) ` +
        "request excluded; req/s = 1/mean",
    );
    const latencyRow = (name: string, r: LatencyResult, ratio: string): string[] => [
      name,
      `${r.runs} x ${r.count / r.runs}`,
      fmt(r.firstMs, 2),
      fmt(r.p50Ms, 3),
      fmt(r.p99Ms, 3),
      fmt(r.requestsPerSecond),
      ratio,
    ];
    lines.push(table([
      ["front end", "runs x n", "first ms", "p50 ms", "p99 ms", "req/s", "ratio"],
      latencyRow("HTTP, Deno.serve (baseline)", metaHttp, "1.00"),
      latencyRow(
        "HTTPS, node:https + TCP_NODELAY",
        metaHttps,
        `${fmt(metaHttps.requestsPerSecond / metaHttp.requestsPerSecond, 2)} req/s, ${
          fmt(metaHttps.p50Ms / metaHttp.p50Ms, 2)
        }x p50 vs HTTP`,
      ),
      latencyRow(
        "HTTPS, Deno.serve TLS (record)",
        metaDenoTls,
        `${fmt(metaDenoTls.p50Ms / metaHttps.p50Ms, 0)}x p50 vs node:https (Nagle stall)`,
      ),
    ]));
    lines.push("");
    lines.push(`Cache-process RSS, MiB (sampled every ${RSS_SAMPLE_MS} ms during the transfers)`);
    lines.push(table([
      ["phase", "start", "peak per rep", "max growth"],
      rssRow(`cold fill x${COLD_REPS}`, rssCold),
      rssRow(`warm hit HTTP x${WARM_REPS}`, rssHttp),
      rssRow(`warm hit HTTPS x${WARM_REPS}`, rssHttps),
    ]));
    lines.push("");
    lines.push(`Total ${fmt((performance.now() - began) / 1000, 1)} s`);
    console.log(lines.join("\n"));
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        console.error(`Cannot clean up: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) await main();

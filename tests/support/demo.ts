/**
 * `deno task demo`: the main job on a fresh machine, end to end and offline.
 *
 * 1. Starts the sample registry (the fake upstream of the tests) on `https://127.0.0.1:<port>`
 *    with three providers of a few MiB for several platforms and one registry module.
 * 2. When `terraform` is on PATH: runs `tfcache run -- terraform init` twice, in two fresh
 *    working directories that share one temporary cache directory, and prints terraform's
 *    output and both savings reports. The second init is served from the cache.
 * 3. Otherwise: starts the cache in this process and fetches the same registry endpoints through
 *    it with tfcache's own registry client (versions, download JSON, SHA256SUMS and its
 *    signature, the zip for the local platform; the module's versions, download and archive)
 *    twice, checking the signed checksums, and prints both savings reports.
 * 4. Prints a summary: wall time and upstream bytes of each pass.
 *
 * Everything binds to 127.0.0.1 and lives in temporary directories that are removed at the end
 * (also on Ctrl-C). Exit status 0 on success, 1 with a message on failure.
 *
 * Run: `deno task demo` (`deno run --allow-all tests/support/demo.ts`). Needs net on 127.0.0.1,
 * read/write on the temporary directory, env, and run for `deno` and `terraform`.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startCacheRuntime } from "../../src/cli/cache_runtime.ts";
import { describeError } from "../../src/cli/describe_error.ts";
import { providerServicesUrl } from "../../src/mirrors/provider_paths.ts";
import { type CacheStatsSnapshot, formatBytes } from "../../src/proxy/stats.ts";
import { parsePlatform } from "../../src/registry/platform.ts";
import { parseProviderSource } from "../../src/registry/provider_address.ts";
import { ProviderRegistryClient } from "../../src/registry/registry_client.ts";
import { parseSha256Sums } from "../../src/registry/sha256sums.ts";
import { ServiceDiscovery } from "../../src/registry/service_discovery.ts";
import { verifyChecksumsSignature } from "../../src/registry/signature.ts";
import { denoEnv } from "../cli/_support/run_cli.ts";
import {
  type FakeModuleConfig,
  type FakeProviderConfig,
  type FakeRegistry,
  startFakeRegistry,
} from "./fake_registry.ts";
import { localPlatform, terraformEnv, terraformPath, writeConfig } from "./terraform.ts";

const MiB = 1024 * 1024;
const MAIN_TS = fileURLToPath(new URL("../../main.ts", import.meta.url));
const PLATFORMS = ["linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64", "windows_amd64"];
const PASSES = 2;

/** The sample registry's providers: three, a few MiB each, several platforms. */
export const DEMO_PROVIDERS: readonly FakeProviderConfig[] = [
  { namespace: "demo", type: "network", versions: ["1.0.0", "1.2.0"], sizeBytes: 4 * MiB },
  { namespace: "demo", type: "storage", versions: ["0.9.0"], sizeBytes: 3 * MiB },
  { namespace: "demo", type: "dns", versions: ["2.1.0"], sizeBytes: 2 * MiB },
].map((p) => ({ ...p, platforms: withLocal(PLATFORMS) }));

/** The sample registry's module. */
export const DEMO_MODULES: readonly FakeModuleConfig[] = [
  { namespace: "demo", name: "vpc", system: "aws", versions: ["1.0.0", "1.1.0"] },
];

/** What one pass (one init, or one round of client requests) cost. */
export interface DemoPass {
  /** `cold` or `warm`. */
  label: string;
  /** Wall time in milliseconds. */
  durationMs: number;
  /** Requests that reached the sample registry. */
  upstreamRequests: number;
  /** Body bytes the sample registry sent. */
  upstreamBytes: number;
  /** tfcache's one-line savings report. */
  report: string;
  /** tfcache's counters. */
  stats: CacheStatsSnapshot | undefined;
}

function withLocal(platforms: readonly string[]): string[] {
  const local = localPlatform();
  return platforms.includes(local) ? [...platforms] : [...platforms, local];
}

function heading(text: string): void {
  console.log(`\n==> ${text}`);
}

function indent(text: string, prefix = "    "): string {
  return text.split("\n").map((line) => prefix + line).join("\n");
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/**
 * Runs the demo.
 *
 * @param signal Aborts the run (Ctrl-C); cleanup still happens.
 * @returns The process exit code: 0 on success.
 */
export async function main(signal?: AbortSignal): Promise<number> {
  const started = performance.now();
  heading("Starting the sample registry");
  const registry = await startFakeRegistry({ providers: DEMO_PROVIDERS, modules: DEMO_MODULES });
  const tempDir = await Deno.makeTempDir({ prefix: "tfcache-demo-" });
  try {
    console.log(`    ${registry.url} (self-signed; trusted through SSL_CERT_FILE)`);
    for (const p of DEMO_PROVIDERS) {
      console.log(
        `    provider ${registry.host}/${p.namespace}/${p.type} ${p.versions.join(", ")}` +
          ` (${formatBytes(p.sizeBytes ?? 0)} executable; ${p.platforms.join(", ")})`,
      );
    }
    for (const m of DEMO_MODULES) {
      console.log(
        `    module   ${registry.host}/${m.namespace}/${m.name}/${m.system} ${
          m.versions.join(", ")
        }`,
      );
    }
    const cacheDir = join(tempDir, "cache");
    console.log(`    cache directory: ${cacheDir} (shared by both passes)`);
    const terraform = terraformPath();
    const passes = terraform !== undefined
      ? await terraformPasses(registry, tempDir, cacheDir, signal)
      : await clientPasses(registry, cacheDir, signal);
    printSummary(passes, terraform !== undefined);
    const warm = passes[PASSES - 1]!;
    if (warm.report.includes("downloaded") || !warm.report.includes("saved")) {
      throw new Error(
        `The second pass should be all cache hits, but tfcache reported "${warm.report}"`,
      );
    }
    console.log(`\nDemo finished in ${seconds(performance.now() - started)}.`);
    return 0;
  } finally {
    await registry.close();
    await Deno.remove(tempDir, { recursive: true }).catch(() => {});
  }
}

/** `tfcache run -- terraform init` twice, in two fresh working directories. */
async function terraformPasses(
  registry: FakeRegistry,
  tempDir: string,
  cacheDir: string,
  signal: AbortSignal | undefined,
): Promise<DemoPass[]> {
  const passes: DemoPass[] = [];
  for (let i = 0; i < PASSES; i++) {
    const label = i === 0 ? "cold" : "warm";
    const root = join(tempDir, `init-${i + 1}`);
    const workDir = join(root, "work");
    const home = join(root, "home");
    const cliConfigFile = join(root, "terraformrc");
    const reportFile = join(root, "report.json");
    await Deno.mkdir(workDir, { recursive: true });
    await Deno.mkdir(home);
    await Deno.writeTextFile(cliConfigFile, "");
    await writeConfig(
      workDir,
      DEMO_PROVIDERS.map((p) => ({ source: `${registry.host}/${p.namespace}/${p.type}` })),
      DEMO_MODULES.map((m) => ({
        name: m.name,
        source: `${registry.host}/${m.namespace}/${m.name}/${m.system}`,
        version: `~> ${m.versions[0]}`,
      })),
    );
    heading(
      `Init ${i + 1} of ${PASSES} (${label}): tfcache run -- terraform init, in ${workDir}`,
    );
    const env = {
      ...denoEnv(),
      ...terraformEnv({ home, cliConfigFile, sslCertFile: registry.caFile }),
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
    };
    registry.counters.reset();
    const t0 = performance.now();
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--quiet",
        MAIN_TS,
        "run",
        "--cache-dir",
        cacheDir,
        "--report-json",
        reportFile,
        "--",
        "terraform",
        "init",
        "-input=false",
        "-no-color",
      ],
      cwd: workDir,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...(signal !== undefined ? { signal } : {}),
    }).output();
    const durationMs = performance.now() - t0;
    const decoder = new TextDecoder();
    const stdout = decoder.decode(output.stdout);
    const stderr = decoder.decode(output.stderr);
    const highlights = terraformHighlights(stdout);
    if (highlights !== "") console.log(indent(highlights));
    if (output.code !== 0) {
      throw new Error(
        `terraform init through tfcache failed (exit ${output.code}):\n${
          indent((stdout + stderr).trimEnd())
        }`,
      );
    }
    const report = JSON.parse(await Deno.readTextFile(reportFile)) as {
      summary: string;
      stats: CacheStatsSnapshot;
    };
    for (const line of stderr.split("\n")) if (line.trim() !== "") console.log(`    ${line}`);
    passes.push({
      label,
      durationMs,
      upstreamRequests: registry.counters.total,
      upstreamBytes: registry.counters.bytesServed,
      report: report.summary,
      stats: report.stats,
    });
  }
  return passes;
}

/** The lines of terraform's init output that say what it did (no boilerplate paragraphs). */
function terraformHighlights(stdout: string): string {
  const keep = /^(Initializing |Downloading |- |Terraform has been successfully initialized)/;
  return stdout.split("\n").filter((line) => keep.test(line)).join("\n");
}

/** Without terraform: the same endpoints through the cache with tfcache's registry client. */
async function clientPasses(
  registry: FakeRegistry,
  cacheDir: string,
  signal: AbortSignal | undefined,
): Promise<DemoPass[]> {
  heading("terraform is not on PATH: fetching through tfcache with its own registry client");
  const platform = parsePlatform(localPlatform());
  const passes: DemoPass[] = [];
  for (let i = 0; i < PASSES; i++) {
    const label = i === 0 ? "cold" : "warm";
    heading(`Pass ${i + 1} of ${PASSES} (${label}): a fresh cache process, the same cache dir`);
    registry.counters.reset();
    const t0 = performance.now();
    await using runtime = await startCacheRuntime({
      cacheDir,
      env: { ...Deno.env.toObject(), SSL_CERT_FILE: registry.caFile },
      log: (level, message) => {
        if (level === "warn" || level === "error") {
          console.error(`    tfcache: ${level}: ${message}`);
        }
      },
    });
    const fetchFn = (url: string | URL, init?: RequestInit) =>
      fetch(url, { ...init, ...(signal !== undefined ? { signal } : {}) });
    const discovery = new ServiceDiscovery({
      fetch: fetchFn,
      overrides: {
        [registry.host]: {
          "providers.v1": providerServicesUrl(runtime.httpBaseUrl, registry.host),
          "modules.v1": new URL(`modules/${registry.host}/`, runtime.httpBaseUrl).href,
        },
      },
    });
    const client = new ProviderRegistryClient({ fetch: fetchFn, discovery });
    for (const p of DEMO_PROVIDERS) {
      const address = parseProviderSource(`${registry.host}/${p.namespace}/${p.type}`);
      const versions = await client.versions(address, withSignal(signal));
      const newest = versions.map((v) => v.version).sort(compareVersions).at(-1);
      if (newest === undefined) throw new Error(`No versions of ${p.namespace}/${p.type}`);
      const download = await client.download(address, newest, platform, withSignal(signal));
      if (download.shasumsUrl === undefined || download.shasumsSignatureUrl === undefined) {
        throw new Error(`No SHA256SUMS for ${p.namespace}/${p.type} ${newest}`);
      }
      const [sums, sig, zip] = await Promise.all([
        getBytes(download.shasumsUrl, signal),
        getBytes(download.shasumsSignatureUrl, signal),
        getBytes(download.downloadUrl, signal),
      ]);
      const auth = await verifyChecksumsSignature({
        document: sums,
        signature: sig,
        keys: download.signingKeys.gpgPublicKeys,
        subject: `${p.namespace}/${p.type} ${newest}`,
      });
      const digest = createHash("sha256").update(zip).digest("hex");
      if (parseSha256Sums(sums).get(download.filename) !== digest) {
        throw new Error(`Checksum of ${download.filename} does not match the signed SHA256SUMS`);
      }
      console.log(
        `    ${download.filename}: ${formatBytes(zip.byteLength)}, sha256 ${
          digest.slice(0, 12)
        }… matches SHA256SUMS (${auth.label}, key ID ${auth.keyId})`,
      );
    }
    for (const m of DEMO_MODULES) await fetchModule(registry, m, discovery, signal);
    await runtime.close();
    const durationMs = performance.now() - t0;
    const report = runtime.stats.formatReport();
    console.log(`    tfcache: ${report}`);
    passes.push({
      label,
      durationMs,
      upstreamRequests: registry.counters.total,
      upstreamBytes: registry.counters.bytesServed,
      report,
      stats: runtime.stats.toJSON(),
    });
  }
  return passes;
}

function withSignal(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal !== undefined ? { signal } : {};
}

/** Versions, download and archive of one module, through the cache. */
async function fetchModule(
  registry: FakeRegistry,
  module: FakeModuleConfig,
  discovery: ServiceDiscovery,
  signal: AbortSignal | undefined,
): Promise<void> {
  const base = await discovery.modulesUrl(registry.host);
  const path = `${module.namespace}/${module.name}/${module.system}`;
  const versions = JSON.parse(
    new TextDecoder().decode(await getBytes(new URL(`${path}/versions`, base), signal)),
  ) as { modules?: { versions?: { version?: string }[] }[] };
  const newest = (versions.modules?.[0]?.versions ?? [])
    .flatMap((v) => v.version !== undefined ? [v.version] : [])
    .sort(compareVersions).at(-1);
  if (newest === undefined) throw new Error(`No versions of module ${path}`);
  const downloadUrl = new URL(`${path}/${newest}/download`, base);
  const response = await fetch(downloadUrl, withSignal(signal));
  const body = await response.text();
  let location = response.headers.get("x-terraform-get");
  if (location === null && response.ok && body !== "") {
    location = (JSON.parse(body) as { location?: string }).location ?? null;
  }
  if (!response.ok || location === null) {
    throw new Error(`Cannot resolve module ${path} ${newest}: HTTP ${response.status}`);
  }
  // go-getter syntax: an optional `//subdir` after the archive path.
  const archiveUrl = new URL(location.replace(/(\.tar\.gz)\/\/.*$/, "$1"), downloadUrl);
  const archive = await getBytes(archiveUrl, signal);
  console.log(`    module ${path} ${newest}: ${formatBytes(archive.byteLength)} archive`);
}

async function getBytes(url: string | URL, signal: AbortSignal | undefined): Promise<Uint8Array> {
  const response = await fetch(url, withSignal(signal));
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`GET ${url} answered HTTP ${response.status}`);
  }
  return await response.bytes();
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map(Number);
  const pb = b.split(/[.-]/).map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function printSummary(passes: readonly DemoPass[], viaTerraform: boolean): void {
  heading("Summary");
  const what = viaTerraform ? "tfcache run -- terraform init" : "registry client through tfcache";
  const rows = [
    ["pass", "wall time", "upstream requests", "upstream bytes", "tfcache report"],
    ...passes.map((p, i) => [
      `${i + 1} (${p.label})`,
      seconds(p.durationMs),
      String(p.upstreamRequests),
      formatBytes(p.upstreamBytes),
      p.report === "" ? "(nothing)" : p.report,
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  console.log(`    ${what}, ${passes.length} passes sharing one cache directory:`);
  for (const row of rows) {
    console.log("    " + row.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd());
  }
  if (viaTerraform) {
    console.log(
      "    (wall time includes starting tfcache with `deno run`; upstream = the sample registry)",
    );
  }
}

if (import.meta.main) {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error("interrupted"));
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const name of signals) Deno.addSignalListener(name, onSignal);
  let code: number;
  try {
    code = await main(controller.signal);
  } catch (error) {
    if (controller.signal.aborted) {
      console.error("\ndemo: interrupted; the sample registry and temporary files are cleaned up");
      code = 130;
    } else {
      console.error(`\ndemo: error: ${describeError(error)}`);
      code = 1;
    }
  }
  for (const name of signals) Deno.removeSignalListener(name, onSignal);
  Deno.exit(code);
}

/**
 * A fake upstream Terraform registry for tests, benchmarks and the demo.
 *
 * It speaks service discovery, the provider registry protocol (`providers.v1`) and the module
 * registry protocol (`modules.v1`) over HTTPS on `127.0.0.1:0`, generates provider zips and
 * module tarballs deterministically, signs SHA256SUMS with an OpenPGP key made at start, counts
 * every request and can inject faults at runtime.
 *
 * Terraform only talks HTTPS to registry hosts, so the returned `caFile` (system roots plus
 * this server's certificate) must be passed to terraform as `SSL_CERT_FILE`.
 *
 * Permissions: `--allow-net=127.0.0.1` plus read/write for the temporary directory and read of
 * the system CA bundle.
 *
 * @example
 * ```ts
 * await using registry = await startFakeRegistry({
 *   providers: [{ namespace: "tfcache", type: "alpha", versions: ["1.0.0"], platforms: ["linux_amd64"] }],
 * });
 * console.log(`source = "${registry.host}/tfcache/alpha", SSL_CERT_FILE=${registry.caFile}`);
 * ```
 *
 * @module
 */
import * as openpgp from "npm:openpgp@6.3.2";
import { packTar } from "npm:modern-tar@0.8.6";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { serveHttps } from "../../src/proxy/https_server.ts";
import { generateServerCertificate } from "../../src/proxy/tls.ts";
import {
  type FakePackageSpec,
  fakeProviderZip,
  fakeProviderZipChunks,
  fakeProviderZipInfo,
  providerShasumsFilename,
  providerZipFilename,
} from "./fake_provider_zip.ts";

export {
  dirhashH1,
  type FakePackageSpec,
  fakeProviderZip,
  fakeProviderZipInfo,
  type FakeZipInfo,
  providerExecutableName,
  providerShasumsFilename,
  providerZipFilename,
} from "./fake_provider_zip.ts";

/** What a request to the fake registry was for. */
export type RequestKind =
  | "discovery"
  | "versions"
  | "download-info"
  | "zip"
  | "shasums"
  | "signature"
  | "module-versions"
  | "module-download"
  | "archive"
  | "other";

/** Every {@linkcode RequestKind}, in a stable order. */
export const REQUEST_KINDS: readonly RequestKind[] = [
  "discovery",
  "versions",
  "download-info",
  "zip",
  "shasums",
  "signature",
  "module-versions",
  "module-download",
  "archive",
  "other",
];

/** A provider served by the fake registry. */
export interface FakeProviderConfig {
  /** Namespace, e.g. `tfcache`. */
  namespace: string;
  /** Type, e.g. `alpha`. */
  type: string;
  /** Versions, listed in this order. */
  versions: readonly string[];
  /** Platforms as `<os>_<arch>`, e.g. `linux_amd64`. */
  platforms: readonly string[];
  /** Size of the executable in each zip (padding included). Default: a few hundred bytes. */
  sizeBytes?: number;
  /** Plugin protocols advertised. Default `["5.0"]`. */
  protocols?: readonly string[];
  /**
   * Advertise `download_url` as a root-relative path and the SHA256SUMS URLs as `../`-relative
   * paths instead of absolute URLs. Default false.
   */
  relativeDownloadUrl?: boolean;
  /**
   * Host name used in absolute download URLs: `localhost` sends the artifact download to a
   * different host name than the registry (`127.0.0.1`). Default `127.0.0.1`.
   */
  downloadHost?: "127.0.0.1" | "localhost";
}

/** A module served by the fake registry. */
export interface FakeModuleConfig {
  /** Namespace, e.g. `tfcache`. */
  namespace: string;
  /** Module name, e.g. `network`. */
  name: string;
  /** Target system, e.g. `aws`. */
  system: string;
  /** Versions, listed in this order. */
  versions: readonly string[];
  /**
   * Files of the `.tar.gz` package (path → content), or a function of the version.
   * Default: a `main.tf` with an output holding the version.
   */
  files?:
    | Readonly<Record<string, string>>
    | ((version: string) => Readonly<Record<string, string>>);
  /**
   * `header` (default): 204 + `X-Terraform-Get`. `json`: 200 + `{"location": …}` only (OpenTofu
   * and newer clients; terraform 1.11 rejects it). `both`: 200 + the JSON body + the header.
   */
  downloadForm?: "header" | "json" | "both";
  /** `tarball` (default): a `.tar.gz` served under `/archives/`. `git`: {@linkcode gitUrl}. */
  sourceKind?: "tarball" | "git";
  /**
   * Location for `sourceKind: "git"`, e.g. `git::http://127.0.0.1:1234/repo.git?ref=v{version}`;
   * `{version}` is replaced. Or a function of the version.
   */
  gitUrl?: string | ((version: string) => string);
  /** For tarballs: give a root-relative location (`/archives/…`) instead of an absolute URL. */
  relativeLocation?: boolean;
}

/** Options for {@linkcode startFakeRegistry}. */
export interface FakeRegistryOptions {
  /** Providers to serve. */
  providers?: readonly FakeProviderConfig[];
  /** Modules to serve. */
  modules?: readonly FakeModuleConfig[];
  /** Seed for the zip padding; same seed, same bytes. Default `"tfcache"`. */
  seed?: string;
  /** Port to bind on 127.0.0.1. Default 0 (ephemeral). */
  port?: number;
  /**
   * Total bytes of zips kept in memory once built. Zips that do not fit are regenerated for each
   * request (same bytes, more CPU). Default 512 MiB.
   */
  memoryCacheMaxBytes?: number;
}

/** Faults that the fake registry can inject. Unset fields mean "behave". */
export interface FaultSpec {
  /** download-info: advertise a `shasum` that does not match the zip (or SHA256SUMS). */
  wrongShasum?: boolean;
  /** zip: flip one byte in the middle of the served zip (same length). */
  tamperedZip?: boolean;
  /** Any kind: answer 500. */
  status500?: boolean;
  /** Any kind: answer 429 with `Retry-After`. */
  status429?: { retryAfterSeconds: number };
  /** Any kind with a body: send at most this many bytes per second. */
  slowDripBytesPerSec?: number;
  /** zip and archive by default: error the body (drop the connection) after half the bytes. */
  resetMidBody?: boolean;
  /** JSON kinds: send a truncated, unparseable JSON body with status 200. */
  invalidJson?: boolean;
  /** zip and archive by default: pace the body at this many bytes per second. */
  throttleBytesPerSec?: number;
  /** signature: serve a valid signature made by a key that is not advertised. */
  badSignature?: boolean;
}

/** Which requests a fault rule applies to. Omitted fields match everything. */
export interface FaultScope {
  /** Only requests about this provider, as `namespace/type`. */
  provider?: string;
  /** Only requests about this module, as `namespace/name/system`. */
  module?: string;
  /**
   * Only these kinds. When set, body faults (`resetMidBody`, `throttleBytesPerSec`,
   * `invalidJson`) apply to these kinds instead of their defaults.
   */
  kinds?: readonly RequestKind[];
  /** Apply to this many matching requests, then remove the rule. Default: until cleared. */
  times?: number;
}

/** A fault rule as stored by {@linkcode FaultSwitches}. */
export interface FaultRule {
  /** Unique id, for {@linkcode FaultSwitches.remove}. */
  readonly id: number;
  /** The faults. */
  readonly spec: FaultSpec;
  /** The scope. */
  readonly scope: FaultScope;
  /** Remaining applications, or undefined for unlimited. */
  remaining: number | undefined;
}

const JSON_KINDS: ReadonlySet<RequestKind> = new Set([
  "discovery",
  "versions",
  "download-info",
  "module-versions",
  "module-download",
]);
const ARTIFACT_KINDS: ReadonlySet<RequestKind> = new Set(["zip", "archive"]);

/** The faults in force for one request, after scoping and kind defaults. */
interface _ActiveFaults {
  wrongShasum: boolean;
  tamperedZip: boolean;
  status500: boolean;
  status429: { retryAfterSeconds: number } | undefined;
  rateBytesPerSec: number | undefined;
  resetMidBody: boolean;
  invalidJson: boolean;
  badSignature: boolean;
}

/** Runtime fault switches, global or scoped to a provider, module or request kinds. */
export class FaultSwitches {
  #rules: FaultRule[] = [];
  #nextId = 1;

  /**
   * Adds a fault rule.
   *
   * @param spec The faults.
   * @param scope Which requests it applies to (default: all).
   * @returns The rule, for {@linkcode FaultSwitches.remove}.
   * @example
   * ```ts
   * const faults = new FaultSwitches();
   * faults.set({ status500: true }, { provider: "tfcache/alpha", kinds: ["zip"], times: 1 });
   * ```
   */
  set(spec: FaultSpec, scope: FaultScope = {}): FaultRule {
    const rule: FaultRule = { id: this.#nextId++, spec, scope, remaining: scope.times };
    this.#rules.push(rule);
    return rule;
  }

  /**
   * Removes one rule.
   *
   * @param rule A rule returned by {@linkcode FaultSwitches.set}.
   */
  remove(rule: FaultRule): void {
    this.#rules = this.#rules.filter((r) => r.id !== rule.id);
  }

  /** Removes every rule. */
  clear(): void {
    this.#rules = [];
  }

  /** The rules currently in force. */
  get rules(): readonly FaultRule[] {
    return this.#rules;
  }

  /** @internal Resolves the faults for one request and consumes counted rules. */
  resolve(kind: RequestKind, subject: _Subject): _ActiveFaults {
    const active: _ActiveFaults = {
      wrongShasum: false,
      tamperedZip: false,
      status500: false,
      status429: undefined,
      rateBytesPerSec: undefined,
      resetMidBody: false,
      invalidJson: false,
      badSignature: false,
    };
    for (const rule of this.#rules) {
      const { scope, spec } = rule;
      if (scope.provider !== undefined && scope.provider !== subject.provider) continue;
      if (scope.module !== undefined && scope.module !== subject.module) continue;
      if (scope.kinds !== undefined && !scope.kinds.includes(kind)) continue;
      const explicit = scope.kinds !== undefined;
      if (rule.remaining !== undefined) rule.remaining--;

      if (spec.wrongShasum === true && kind === "download-info") active.wrongShasum = true;
      if (spec.tamperedZip === true && kind === "zip") active.tamperedZip = true;
      if (spec.badSignature === true && kind === "signature") active.badSignature = true;
      if (spec.status500 === true) active.status500 = true;
      if (spec.status429 !== undefined) active.status429 = spec.status429;
      if (spec.invalidJson === true && (explicit || JSON_KINDS.has(kind))) {
        active.invalidJson = true;
      }
      if (spec.resetMidBody === true && (explicit || ARTIFACT_KINDS.has(kind))) {
        active.resetMidBody = true;
      }
      const rates: number[] = [];
      if (spec.slowDripBytesPerSec !== undefined) rates.push(spec.slowDripBytesPerSec);
      if (
        spec.throttleBytesPerSec !== undefined && (explicit || ARTIFACT_KINDS.has(kind))
      ) {
        rates.push(spec.throttleBytesPerSec);
      }
      for (const rate of rates) {
        active.rateBytesPerSec = Math.min(active.rateBytesPerSec ?? Infinity, rate);
      }
    }
    this.#rules = this.#rules.filter((r) => r.remaining === undefined || r.remaining > 0);
    return active;
  }
}

/** One request as logged by {@linkcode RequestCounters}. */
export interface RequestRecord {
  /** HTTP method. */
  method: string;
  /** URL path (no query). */
  path: string;
  /** What the request was for. */
  kind: RequestKind;
  /** Status sent. */
  status: number;
}

/**
 * Request and byte counters. GET requests are counted per kind and per path; HEAD requests
 * (go-getter sends one before each archive download) only in {@linkcode RequestCounters.head}
 * and the log.
 */
export class RequestCounters {
  /** GET requests per kind (every kind present, zero when unused). */
  byKind: Record<RequestKind, number> = _zeroKinds();
  /** GET requests per URL path. */
  byPath: Map<string, number> = new Map();
  /** All GET requests. */
  total = 0;
  /** HEAD requests. */
  head = 0;
  /** Response body bytes actually handed to the connection. */
  bytesServed = 0;
  /** Every request in arrival order. */
  log: RequestRecord[] = [];

  /**
   * Returns the GET count for one path.
   *
   * @param path URL path, e.g. `/v1/providers/tfcache/alpha/versions`.
   * @returns The count, 0 when never requested.
   */
  path(path: string): number {
    return this.byPath.get(path) ?? 0;
  }

  /** Sets every counter back to zero and empties the log. */
  reset(): void {
    this.byKind = _zeroKinds();
    this.byPath = new Map();
    this.total = 0;
    this.head = 0;
    this.bytesServed = 0;
    this.log = [];
  }
}

function _zeroKinds(): Record<RequestKind, number> {
  return Object.fromEntries(REQUEST_KINDS.map((k) => [k, 0])) as Record<RequestKind, number>;
}

/** Hashes terraform should record for one provider version. */
export interface ExpectedHashes {
  /** `zh:` per platform (`<os>_<arch>` → `zh:<hex>`). */
  zh: Record<string, string>;
  /** `h1:` per platform. */
  h1: Record<string, string>;
}

/**
 * Computes the hashes a lock file should hold for a fake provider version, from the package
 * definition alone (independent of the code under test).
 *
 * @param provider The provider config given to {@linkcode startFakeRegistry}.
 * @param version One of its versions.
 * @param seed The registry seed (default `"tfcache"`).
 * @returns `zh:` and `h1:` per platform.
 * @example
 * ```ts
 * const provider = { namespace: "tfcache", type: "alpha", versions: ["1.0.0"], platforms: ["linux_amd64"] };
 * const { h1, zh } = expectedHashes(provider, "1.0.0");
 * console.log(h1["linux_amd64"], Object.values(zh));
 * ```
 */
export function expectedHashes(
  provider: FakeProviderConfig,
  version: string,
  seed?: string,
): ExpectedHashes {
  const result: ExpectedHashes = { zh: {}, h1: {} };
  for (const platform of provider.platforms) {
    const info = fakeProviderZipInfo(_spec(provider, version, platform, seed));
    result.zh[platform] = info.zh;
    result.h1[platform] = info.h1;
  }
  return result;
}

/**
 * Builds the SHA256SUMS document for a provider version: `<hex>  <filename>` per platform,
 * lines sorted bytewise as goreleaser writes them.
 *
 * @param provider The provider config.
 * @param version One of its versions.
 * @param seed The registry seed.
 * @returns The document text (each line ends in `\n`).
 */
export function fakeShasums(provider: FakeProviderConfig, version: string, seed?: string): string {
  const lines = provider.platforms.map((platform) => {
    const info = fakeProviderZipInfo(_spec(provider, version, platform, seed));
    return `${info.zipSha256}  ${info.filename}\n`;
  });
  return lines.sort().join("");
}

/**
 * Builds a module's `.tar.gz` package deterministically (sorted entries, fixed mtime and
 * owner, gzip without a timestamp).
 *
 * @param module The module config.
 * @param version One of its versions.
 * @returns The archive bytes.
 */
export async function fakeModuleArchive(
  module: FakeModuleConfig,
  version: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const files = typeof module.files === "function"
    ? module.files(version)
    : module.files ?? _defaultModuleFiles(module, version);
  const encoder = new TextEncoder();
  const mtime = new Date("2024-01-01T00:00:00Z");
  const names = Object.keys(files).sort();
  const tar = await packTar(names.map((name) => {
    const body = encoder.encode(files[name]);
    return {
      header: {
        name,
        size: body.length,
        mtime,
        mode: 0o644,
        uid: 0,
        gid: 0,
        uname: "",
        gname: "",
      },
      body,
    };
  }));
  const gz = gzipSync(tar, { level: 9 });
  return Uint8Array.from(gz);
}

function _defaultModuleFiles(module: FakeModuleConfig, version: string): Record<string, string> {
  return {
    "main.tf": [
      `# ${module.namespace}/${module.name}/${module.system} ${version} (tfcache fake registry)`,
      'output "version" {',
      `  value = "${version}"`,
      "}",
      "",
    ].join("\n"),
  };
}

function _spec(
  provider: FakeProviderConfig,
  version: string,
  platform: string,
  seed: string | undefined,
): FakePackageSpec {
  const spec: FakePackageSpec = {
    namespace: provider.namespace,
    type: provider.type,
    version,
    platform,
  };
  if (provider.sizeBytes !== undefined) spec.sizeBytes = provider.sizeBytes;
  if (seed !== undefined) spec.seed = seed;
  return spec;
}

/** A running fake registry. */
export interface FakeRegistry extends AsyncDisposable {
  /** `127.0.0.1:PORT`: the registry host part of provider and module sources. */
  readonly host: string;
  /** `https://127.0.0.1:PORT`. */
  readonly url: string;
  /** The bound port. */
  readonly port: number;
  /** The server certificate (self-signed, PEM), to trust in Deno clients. */
  readonly caCertPem: string;
  /** PEM bundle (system roots + {@linkcode FakeRegistry.caCertPem}) for `SSL_CERT_FILE`. */
  readonly caFile: string;
  /** The advertised public signing key (ASCII armor). */
  readonly signingKeyArmored: string;
  /** The advertised key ID (16 upper-case hex digits). */
  readonly signingKeyId: string;
  /** Request and byte counters. */
  readonly counters: RequestCounters;
  /** Runtime fault switches. */
  readonly faults: FaultSwitches;
  /** The providers served. */
  readonly providers: readonly FakeProviderConfig[];
  /** The modules served. */
  readonly modules: readonly FakeModuleConfig[];
  /** The seed in use. */
  readonly seed: string;
  /** The request handler, callable without a socket. */
  handler(req: Request): Promise<Response>;
  /**
   * Returns the hashes a lock file should hold for one of this registry's provider versions.
   *
   * @param namespaceType `namespace/type`.
   * @param version The version.
   */
  expectedHashes(namespaceType: string, version: string): ExpectedHashes;
  /**
   * Builds (and signs) every zip, SHA256SUMS and module archive ahead of time, so that
   * benchmarks do not time package generation. Zips beyond the memory budget only get their
   * hashes computed.
   */
  warm(): Promise<void>;
  /** Stops listening (the upstream is "down"): new connections are refused. */
  stop(): Promise<void>;
  /** Listens again on the same port after {@linkcode FakeRegistry.stop}. */
  start(): Promise<void>;
  /** Stops the server and removes the temporary directory. */
  close(): Promise<void>;
}

interface _Subject {
  provider?: string;
  module?: string;
}

interface _Route {
  kind: RequestKind;
  subject: _Subject;
  params: string[];
}

interface _Reply {
  status: number;
  headers: Record<string, string>;
  /** Body bytes, or a factory for a chunk iterator plus its total length. */
  body?: Uint8Array | { length: number; chunks: () => Iterator<Uint8Array> };
}

interface _SignedSums {
  text: Uint8Array;
  signature: Uint8Array;
  badSignature: Uint8Array;
}

interface _Listener {
  port: number;
  close(): Promise<void>;
}

const SLICE_BYTES = 256 * 1024;
const RESET_FLUSH_MS = 50;
const FAKE_KEY_USER = { name: "tfcache fake registry", email: "fake-registry@tfcache.invalid" };

/**
 * Starts a fake registry on `https://127.0.0.1:<port>`.
 *
 * @param options Providers, modules, seed and port.
 * @returns The running registry; call `close()` (or use `await using`).
 * @example
 * ```ts
 * await using registry = await startFakeRegistry({
 *   providers: [{ namespace: "tfcache", type: "alpha", versions: ["1.0.0"], platforms: ["linux_amd64"] }],
 * });
 * const res = await registry.handler(new Request(`${registry.url}/.well-known/terraform.json`));
 * console.log(await res.json());
 * ```
 */
export async function startFakeRegistry(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  const tempDir = await Deno.makeTempDir({ prefix: "tfcache-fake-registry-" });
  try {
    const [tls, goodKey, otherKey] = await Promise.all([
      generateServerCertificate(),
      openpgp.generateKey({
        type: "ecc",
        curve: "curve25519Legacy",
        userIDs: [FAKE_KEY_USER],
        format: "object",
      }),
      openpgp.generateKey({
        type: "ecc",
        curve: "curve25519Legacy",
        userIDs: [{ name: "not the advertised key" }],
        format: "object",
      }),
    ]);
    const caFile = join(tempDir, "ca-bundle.pem");
    await Deno.writeTextFile(caFile, await _bundle(tls.certPem));
    const registry = new _FakeRegistry(options, {
      tempDir,
      caFile,
      certPem: tls.certPem,
      keyPem: tls.keyPem,
      privateKey: goodKey.privateKey,
      publicKey: goodKey.publicKey,
      otherPrivateKey: otherKey.privateKey,
    });
    await registry.start();
    return registry;
  } catch (error) {
    await Deno.remove(tempDir, { recursive: true }).catch(() => {});
    throw error;
  }
}

async function _bundle(certPem: string): Promise<string> {
  let system = "";
  try {
    system = await Deno.readTextFile("/etc/ssl/certs/ca-certificates.crt");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (system !== "" && !system.endsWith("\n")) system += "\n";
  return system + certPem;
}

interface _Material {
  tempDir: string;
  caFile: string;
  certPem: string;
  keyPem: string;
  privateKey: openpgp.PrivateKey;
  publicKey: openpgp.PublicKey;
  otherPrivateKey: openpgp.PrivateKey;
}

class _FakeRegistry implements FakeRegistry {
  readonly counters: RequestCounters = new RequestCounters();
  readonly faults: FaultSwitches = new FaultSwitches();
  readonly providers: readonly FakeProviderConfig[];
  readonly modules: readonly FakeModuleConfig[];
  readonly seed: string;
  readonly caFile: string;
  readonly caCertPem: string;
  readonly signingKeyArmored: string;
  readonly signingKeyId: string;

  #material: _Material;
  #port: number;
  #listener: _Listener | undefined;
  #closed = false;
  #memoryCacheMaxBytes: number;
  #zipCache = new Map<string, Uint8Array>();
  #zipCacheBytes = 0;
  #sumsCache = new Map<string, Promise<_SignedSums>>();
  #archiveCache = new Map<string, Promise<Uint8Array>>();

  constructor(options: FakeRegistryOptions, material: _Material) {
    this.providers = options.providers ?? [];
    this.modules = options.modules ?? [];
    this.seed = options.seed ?? "tfcache";
    this.#port = options.port ?? 0;
    this.#memoryCacheMaxBytes = options.memoryCacheMaxBytes ?? 512 * 1024 * 1024;
    this.#material = material;
    this.caFile = material.caFile;
    this.caCertPem = material.certPem;
    this.signingKeyArmored = material.publicKey.armor();
    this.signingKeyId = material.publicKey.getKeyID().toHex().toUpperCase();
    for (const p of this.providers) {
      for (const platform of p.platforms) {
        if (!/^[a-z0-9]+_[a-z0-9]+$/.test(platform)) {
          throw new TypeError(
            `Cannot serve provider "${p.namespace}/${p.type}": bad platform "${platform}"`,
          );
        }
      }
    }
  }

  get port(): number {
    return this.#port;
  }

  get host(): string {
    return `127.0.0.1:${this.#port}`;
  }

  get url(): string {
    return `https://${this.host}`;
  }

  expectedHashes(namespaceType: string, version: string): ExpectedHashes {
    const provider = this.#provider(namespaceType);
    if (provider === undefined) throw new TypeError(`Unknown fake provider "${namespaceType}"`);
    return expectedHashes(provider, version, this.seed);
  }

  async start(): Promise<void> {
    if (this.#closed) throw new Error("Cannot start the fake registry: it is closed");
    if (this.#listener !== undefined) return;
    this.#listener = await _listen(this.handler, {
      port: this.#port,
      cert: this.#material.certPem,
      key: this.#material.keyPem,
    });
    this.#port = this.#listener.port;
  }

  async stop(): Promise<void> {
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.close();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.stop();
    await Deno.remove(this.#material.tempDir, { recursive: true }).catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const route = _classify(url.pathname);
    const isHead = req.method === "HEAD";
    if (req.method !== "GET" && !isHead) {
      return this.#finish(req, url, route, {
        status: 405,
        headers: { allow: "GET, HEAD", "content-type": "text/plain" },
        body: _text("method not allowed\n"),
      }, undefined);
    }
    const faults = isHead ? undefined : this.faults.resolve(route.kind, route.subject);
    let reply: _Reply;
    if (faults?.status429 !== undefined) {
      reply = {
        status: 429,
        headers: {
          "content-type": "text/plain",
          "retry-after": String(faults.status429.retryAfterSeconds),
        },
        body: _text("too many requests (fault injected)\n"),
      };
    } else if (faults?.status500 === true) {
      reply = {
        status: 500,
        headers: { "content-type": "text/plain" },
        body: _text("internal server error (fault injected)\n"),
      };
    } else {
      try {
        reply = await this.#route(route, faults);
      } catch (error) {
        reply = {
          status: 500,
          headers: { "content-type": "text/plain" },
          body: _text(`fake registry failed: ${String(error)}\n`),
        };
      }
      if (faults?.invalidJson === true && reply.status === 200 && reply.body !== undefined) {
        reply = _brokenJson(reply);
      }
    }
    return this.#finish(req, url, route, reply, faults);
  };

  #finish(
    req: Request,
    url: URL,
    route: _Route,
    reply: _Reply,
    faults: _ActiveFaults | undefined,
  ): Response {
    const isHead = req.method === "HEAD";
    this.counters.log.push({
      method: req.method,
      path: url.pathname,
      kind: route.kind,
      status: reply.status,
    });
    if (isHead) {
      this.counters.head++;
    } else {
      this.counters.total++;
      this.counters.byKind[route.kind]++;
      this.counters.byPath.set(url.pathname, this.counters.path(url.pathname) + 1);
    }
    const headers = new Headers(reply.headers);
    const body = reply.body;
    if (body === undefined || reply.status === 204) {
      return new Response(null, { status: reply.status, headers });
    }
    const length = body instanceof Uint8Array ? body.length : body.length;
    headers.set("content-length", String(length));
    if (isHead) return new Response(null, { status: reply.status, headers });
    const chunks = body instanceof Uint8Array ? _slices(body) : body.chunks();
    const options: _StreamOptions = {
      onBytes: (n) => {
        this.counters.bytesServed += n;
      },
    };
    if (faults?.rateBytesPerSec !== undefined) options.rateBytesPerSec = faults.rateBytesPerSec;
    if (faults?.resetMidBody === true) options.resetAt = Math.floor(length / 2);
    if (faults?.tamperedZip === true && route.kind === "zip" && length > 0) {
      options.tamperAt = Math.floor(length / 2);
    }
    return new Response(_paced(chunks, options), { status: reply.status, headers });
  }

  #provider(namespaceType: string): FakeProviderConfig | undefined {
    return this.providers.find((p) => `${p.namespace}/${p.type}` === namespaceType);
  }

  #module(id: string): FakeModuleConfig | undefined {
    return this.modules.find((m) => `${m.namespace}/${m.name}/${m.system}` === id);
  }

  async #route(route: _Route, faults: _ActiveFaults | undefined): Promise<_Reply> {
    const p = route.params;
    switch (route.kind) {
      case "discovery":
        return _json({ "providers.v1": "/v1/providers/", "modules.v1": "/v1/modules/" });
      case "versions": {
        const provider = this.#provider(route.subject.provider ?? "");
        if (provider === undefined) return _notFound();
        return _json({
          versions: provider.versions.map((version) => ({
            version,
            protocols: provider.protocols ?? ["5.0"],
            platforms: provider.platforms.map(_osArch),
          })),
        });
      }
      case "download-info": {
        const [, , version = "", os = "", arch = ""] = p;
        const provider = this.#provider(route.subject.provider ?? "");
        const platform = `${os}_${arch}`;
        if (
          provider === undefined || !provider.versions.includes(version) ||
          !provider.platforms.includes(platform)
        ) {
          return _notFound();
        }
        return _json(this.#downloadInfo(provider, version, os, arch, faults?.wrongShasum === true));
      }
      case "zip":
      case "shasums":
      case "signature":
        return await this.#file(route, faults?.badSignature === true);
      case "module-versions": {
        const module = this.#module(route.subject.module ?? "");
        if (module === undefined) return _notFound();
        return _json({ modules: [{ versions: module.versions.map((version) => ({ version })) }] });
      }
      case "module-download": {
        const version = p[3] ?? "";
        const module = this.#module(route.subject.module ?? "");
        if (module === undefined || !module.versions.includes(version)) return _notFound();
        const location = this.#moduleLocation(module, version);
        if (module.downloadForm === "json") return _json({ location });
        if (module.downloadForm === "both") {
          const reply = _json({ location });
          reply.headers["x-terraform-get"] = location;
          return reply;
        }
        return { status: 204, headers: { "x-terraform-get": location } };
      }
      case "archive": {
        const [, , , file = ""] = p;
        const version = file.replace(/\.tar\.gz$/, "");
        const module = this.#module(route.subject.module ?? "");
        if (
          module === undefined || !file.endsWith(".tar.gz") || !module.versions.includes(version) ||
          module.sourceKind === "git"
        ) {
          return _notFound();
        }
        const key = `${route.subject.module}/${version}`;
        let archive = this.#archiveCache.get(key);
        if (archive === undefined) {
          archive = fakeModuleArchive(module, version);
          this.#archiveCache.set(key, archive);
        }
        return {
          status: 200,
          headers: { "content-type": "application/gzip" },
          body: await archive,
        };
      }
      case "other":
        return _notFound();
    }
  }

  #origin(provider: FakeProviderConfig): string {
    return `https://${provider.downloadHost ?? "127.0.0.1"}:${this.#port}`;
  }

  #downloadInfo(
    provider: FakeProviderConfig,
    version: string,
    os: string,
    arch: string,
    wrongShasum: boolean,
  ): Record<string, unknown> {
    const platform = `${os}_${arch}`;
    const info = fakeProviderZipInfo(_spec(provider, version, platform, this.seed));
    const dir = `/files/${provider.namespace}/${provider.type}/${version}`;
    const sums = providerShasumsFilename(provider.type, version);
    let downloadUrl: string;
    let shasumsUrl: string;
    if (provider.relativeDownloadUrl === true) {
      // The info document lives at /v1/providers/ns/type/version/download/os/arch: seven
      // levels below the root.
      const up = "../".repeat(7);
      downloadUrl = `${dir}/${info.filename}`;
      shasumsUrl = `${up}${dir.slice(1)}/${sums}`;
    } else {
      const origin = this.#origin(provider);
      downloadUrl = `${origin}${dir}/${info.filename}`;
      shasumsUrl = `${origin}${dir}/${sums}`;
    }
    const shasum = wrongShasum
      ? createHash("sha256").update(`wrong:${info.zipSha256}`).digest("hex")
      : info.zipSha256;
    return {
      protocols: provider.protocols ?? ["5.0"],
      os,
      arch,
      filename: info.filename,
      download_url: downloadUrl,
      shasums_url: shasumsUrl,
      shasums_signature_url: `${shasumsUrl}.sig`,
      shasum,
      signing_keys: {
        gpg_public_keys: [{
          key_id: this.signingKeyId,
          ascii_armor: this.signingKeyArmored,
          trust_signature: "",
          source: "tfcache fake registry",
          source_url: null,
        }],
      },
    };
  }

  async #file(route: _Route, badSignature: boolean): Promise<_Reply> {
    const [, , version = "", filename = ""] = route.params;
    const provider = this.#provider(route.subject.provider ?? "");
    if (provider === undefined || !provider.versions.includes(version)) return _notFound();
    if (route.kind === "zip") {
      const platform = provider.platforms.find((pl) =>
        providerZipFilename(provider.type, version, pl) === filename
      );
      if (platform === undefined) return _notFound();
      const spec = _spec(provider, version, platform, this.seed);
      const headers = { "content-type": "application/zip" };
      const bytes = this.#cachedZip(spec);
      if (bytes !== undefined) return { status: 200, headers, body: bytes };
      const info = fakeProviderZipInfo(spec);
      return {
        status: 200,
        headers,
        body: { length: info.zipSize, chunks: () => fakeProviderZipChunks(spec) },
      };
    }
    const sumsName = providerShasumsFilename(provider.type, version);
    const key = `${provider.namespace}/${provider.type}/${version}`;
    let signed = this.#sumsCache.get(key);
    if (signed === undefined) {
      signed = this.#sign(fakeShasums(provider, version, this.seed));
      this.#sumsCache.set(key, signed);
      signed.catch(() => this.#sumsCache.delete(key));
    }
    if (route.kind === "shasums" && filename === sumsName) {
      return {
        status: 200,
        headers: { "content-type": "text/plain; charset=utf-8" },
        body: (await signed).text,
      };
    }
    if (route.kind === "signature" && filename === `${sumsName}.sig`) {
      const sums = await signed;
      return {
        status: 200,
        headers: { "content-type": "application/octet-stream" },
        body: badSignature ? sums.badSignature : sums.signature,
      };
    }
    return _notFound();
  }

  /** Returns the zip from the memory cache, building it when it fits the budget. */
  #cachedZip(spec: FakePackageSpec): Uint8Array | undefined {
    const key = `${spec.namespace}/${spec.type}/${spec.version}/${spec.platform}`;
    const cached = this.#zipCache.get(key);
    if (cached !== undefined) return cached;
    const info = fakeProviderZipInfo(spec);
    if (this.#zipCacheBytes + info.zipSize > this.#memoryCacheMaxBytes) return undefined;
    const bytes = fakeProviderZip(spec);
    this.#zipCache.set(key, bytes);
    this.#zipCacheBytes += bytes.length;
    return bytes;
  }

  async warm(): Promise<void> {
    for (const provider of this.providers) {
      for (const version of provider.versions) {
        for (const platform of provider.platforms) {
          this.#cachedZip(_spec(provider, version, platform, this.seed));
        }
        await this.#file(
          {
            kind: "shasums",
            subject: { provider: `${provider.namespace}/${provider.type}` },
            params: [
              provider.namespace,
              provider.type,
              version,
              providerShasumsFilename(provider.type, version),
            ],
          },
          false,
        );
      }
    }
    for (const module of this.modules) {
      if (module.sourceKind === "git") continue;
      for (const version of module.versions) {
        const key = `${module.namespace}/${module.name}/${module.system}/${version}`;
        if (!this.#archiveCache.has(key)) {
          this.#archiveCache.set(key, fakeModuleArchive(module, version));
        }
        await this.#archiveCache.get(key);
      }
    }
  }

  async #sign(text: string): Promise<_SignedSums> {
    const bytes = new TextEncoder().encode(text);
    const sign = async (key: openpgp.PrivateKey): Promise<Uint8Array> => {
      const message = await openpgp.createMessage({ binary: bytes });
      return await openpgp.sign({ message, signingKeys: key, detached: true, format: "binary" });
    };
    const [signature, badSignature] = await Promise.all([
      sign(this.#material.privateKey),
      sign(this.#material.otherPrivateKey),
    ]);
    return { text: bytes, signature, badSignature };
  }

  #moduleLocation(module: FakeModuleConfig, version: string): string {
    if (module.sourceKind === "git") {
      const git = module.gitUrl;
      if (git === undefined) {
        throw new TypeError(
          `Cannot serve module "${module.namespace}/${module.name}/${module.system}": gitUrl is required for sourceKind "git"`,
        );
      }
      return typeof git === "function" ? git(version) : git.replaceAll("{version}", version);
    }
    const path = `/archives/${module.namespace}/${module.name}/${module.system}/${version}.tar.gz`;
    return module.relativeLocation === true ? path : `${this.url}${path}`;
  }
}

function _classify(pathname: string): _Route {
  const parts = pathname.split("/").slice(1).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  const other: _Route = { kind: "other", subject: {}, params: parts };
  if (pathname === "/.well-known/terraform.json") {
    return { kind: "discovery", subject: {}, params: [] };
  }
  const [a, b, ...rest] = parts;
  if (a === "v1" && b === "providers") {
    const [ns, type] = rest;
    const subject = { provider: `${ns}/${type}` };
    if (rest.length === 3 && rest[2] === "versions") {
      return { kind: "versions", subject, params: rest };
    }
    if (rest.length === 6 && rest[3] === "download") {
      return { kind: "download-info", subject, params: [ns!, type!, rest[2]!, rest[4]!, rest[5]!] };
    }
    return other;
  }
  if (a === "v1" && b === "modules") {
    const [ns, name, system] = rest;
    const subject = { module: `${ns}/${name}/${system}` };
    if (rest.length === 4 && rest[3] === "versions") {
      return { kind: "module-versions", subject, params: rest };
    }
    if (rest.length === 5 && rest[4] === "download") {
      return { kind: "module-download", subject, params: rest };
    }
    return other;
  }
  if (a === "files" && parts.length === 5) {
    const [, ns, type, version, filename = ""] = parts;
    const subject = { provider: `${ns}/${type}` };
    const params = [ns!, type!, version!, filename];
    if (filename.endsWith(".zip")) return { kind: "zip", subject, params };
    if (filename.endsWith("_SHA256SUMS")) return { kind: "shasums", subject, params };
    if (filename.endsWith("_SHA256SUMS.sig")) return { kind: "signature", subject, params };
    return other;
  }
  if (a === "archives" && parts.length === 5) {
    const [, ns, name, system] = parts;
    return {
      kind: "archive",
      subject: { module: `${ns}/${name}/${system}` },
      params: parts.slice(1),
    };
  }
  return other;
}

function _osArch(platform: string): { os: string; arch: string } {
  const i = platform.indexOf("_");
  return { os: platform.slice(0, i), arch: platform.slice(i + 1) };
}

function _text(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function _json(value: unknown): _Reply {
  return {
    status: 200,
    headers: { "content-type": "application/json" },
    body: _text(JSON.stringify(value)),
  };
}

function _notFound(): _Reply {
  return {
    status: 404,
    headers: { "content-type": "application/json" },
    body: _text(JSON.stringify({ errors: ["Not Found"] })),
  };
}

function _brokenJson(reply: _Reply): _Reply {
  const whole = reply.body instanceof Uint8Array ? reply.body : _text("{}");
  const cut = whole.subarray(0, Math.max(1, Math.floor(whole.length / 2)));
  return {
    status: 200,
    headers: { "content-type": "application/json" },
    body: _text(new TextDecoder().decode(cut) + '"<<broken'),
  };
}

function* _slices(bytes: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += SLICE_BYTES) {
    yield bytes.subarray(i, Math.min(bytes.length, i + SLICE_BYTES));
  }
}

interface _StreamOptions {
  onBytes: (n: number) => void;
  rateBytesPerSec?: number;
  resetAt?: number;
  tamperAt?: number;
}

/** Streams chunks with optional pacing, a one-byte tamper and a mid-body error. */
function _paced(chunks: Iterator<Uint8Array>, options: _StreamOptions): ReadableStream<Uint8Array> {
  const { rateBytesPerSec: rate, resetAt, tamperAt } = options;
  const sliceLimit = rate === undefined
    ? Infinity
    : Math.max(1, Math.min(SLICE_BYTES, Math.floor(rate / 50)));
  let sent = 0;
  let pending: Uint8Array | undefined;
  let cancelled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  const started = performance.now();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(() => {
        timer = undefined;
        wake = undefined;
        resolve();
      }, ms);
    });

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (resetAt !== undefined && sent >= resetAt) {
        // Give the front end a moment to flush what was sent, so the client really receives
        // half the body before the connection drops.
        await sleep(RESET_FLUSH_MS);
        chunks.return?.();
        if (!cancelled) {
          controller.error(new Error("fake registry: connection reset mid-body (fault injected)"));
        }
        return;
      }
      let chunk = pending;
      pending = undefined;
      if (chunk === undefined) {
        const next = chunks.next();
        if (next.done === true) {
          controller.close();
          return;
        }
        chunk = next.value;
      }
      let limit = Math.min(chunk.length, sliceLimit);
      if (resetAt !== undefined) limit = Math.min(limit, resetAt - sent);
      if (limit < chunk.length) {
        pending = chunk.subarray(limit);
        chunk = chunk.subarray(0, limit);
      }
      if (tamperAt !== undefined && tamperAt >= sent && tamperAt < sent + chunk.length) {
        chunk = chunk.slice();
        chunk[tamperAt - sent] = (chunk[tamperAt - sent] ?? 0) ^ 0xff;
      }
      if (rate !== undefined) {
        const wait = started + ((sent + chunk.length) / rate) * 1000 - performance.now();
        if (wait >= 1) await sleep(wait);
      }
      if (cancelled) return;
      sent += chunk.length;
      options.onBytes(chunk.length);
      controller.enqueue(chunk);
    },
    cancel() {
      cancelled = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      wake?.();
      chunks.return?.();
    },
  }, { highWaterMark: 0 });
}

async function _listen(
  handler: (req: Request) => Promise<Response>,
  options: { port: number; cert: string; key: string },
): Promise<_Listener> {
  const server = await serveHttps({
    handler,
    cert: options.cert,
    key: options.key,
    hostname: "127.0.0.1",
    port: options.port,
    // A short idle timeout lets a "down" upstream drop parked keep-alive sockets quickly.
    keepAliveTimeoutMs: 5_000,
  });
  return { port: server.port, close: () => server.close() };
}

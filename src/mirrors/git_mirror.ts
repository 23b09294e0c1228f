/**
 * A git smart-HTTP mirror, so `git::` module sources written directly in `module` blocks are
 * served through the cache. `tfcache run` points git at it with `url.<base>.insteadOf` entries
 * passed in `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` ({@linkcode gitInsteadOfEnv}).
 *
 * Paths: `git/<host>/<repo path>/info/refs?service=git-upload-pack` and
 * `git/<host>/<repo path>/git-upload-pack` (POST). Both map to one metadata object
 * `git/<host>/<repo>.json` whose `produce` hook creates or refreshes a bare mirror clone under
 * `<root>/git-mirrors/<host>/<repo>.git` (so refreshes run under the store lock and follow the
 * metadata TTL); `serve` answers with `git http-backend` run as a CGI against that clone. When
 * upstream is unreachable the existing clone keeps being served. Pushes are refused.
 *
 * Plain-HTTP remotes (`git::http://…` sources) use `git-http/<host>/…` paths, keys and
 * `<root>/git-mirrors-http/<host>/…` clones, so a clone fetched without TLS is never served for
 * an HTTPS remote; they are mirrored only for the hosts listed in
 * {@linkcode GitMirrorOptions.plainHttpHosts}.
 *
 * Clone directories follow the store's on-disk name encoding
 * ({@linkcode GitMirrorOptions.encodeColons}): on Windows `<host:port>` becomes `<host%3Aport>`.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { DEFAULT_ENCODE_COLONS, toDiskPath } from "../proxy/_key_path.ts";
import { HttpError, UpstreamError } from "../proxy/errors.ts";
import type { Mirror, ProducedMetadata, Route, RouteContext } from "../proxy/route.ts";
import { git, type GitOptions, runGit } from "./git_fetch.ts";
import { redactSource } from "./module_source_errors.ts";

/** Options for {@linkcode GitMirror}. */
export interface GitMirrorOptions {
  /** Cache root; bare clones live in `<root>/git-mirrors/`. */
  root: string;
  /** Upstream URL for a host and repository path; default `https://<host>/<path>`. */
  upstreamUrl?: (host: string, path: string) => string;
  /** Hosts served; any host when absent. */
  hosts?: readonly string[];
  /**
   * Hosts whose plain-HTTP remotes are mirrored under `git-http/<host>/` (upstream
   * `http://<host>/<path>`); none when absent. `tfcache run` lists the hosts the configuration
   * names in `git::http://` sources.
   */
  plainHttpHosts?: readonly string[];
  /** The git executable (default `git` on PATH). */
  git?: string;
  /**
   * Name clone directories as the store names its files (`encodeKeyPath`: `%` as `%25`,
   * `:` as `%3A`); pass the store's `encodeColons`. Default: on Windows only.
   */
  encodeColons?: boolean;
}

/** The metadata cached per mirrored repository. */
export interface GitMirrorState {
  /** Upstream URL (credentials redacted). */
  upstream: string;
  /** When the clone was last brought up to date (ISO 8601). */
  refreshedAt: string;
  /** Set when the last refresh failed and an older clone is served. */
  staleBecause?: string;
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.~-]{0,127}$/;
const HOST = /^[a-z0-9][a-z0-9.-]{0,252}(:[0-9]{1,5})?$/;

interface GitPath {
  host: string;
  /** Repository path as requested (e.g. `org/repo.git`). */
  repo: string;
  /** Normalised repository path without `.git`. */
  repoKey: string;
  /** `info/refs` or `git-upload-pack`. */
  service: "info/refs" | "git-upload-pack";
  /** `https` for `git/…` paths, `http` for `git-http/…` paths. */
  scheme: "https" | "http";
}

/** Serves git smart HTTP (upload-pack only) from bare mirror clones kept under the cache root. */
export class GitMirror implements Mirror {
  /** Mirror name for logs. */
  readonly name = "git";
  /** git's upload-pack requests are POSTs. */
  readonly methods: readonly string[] = ["POST"];
  readonly #options: GitMirrorOptions;
  readonly #inflight = new Map<string, Promise<void>>();

  /** @param options Root, upstream mapping, host allow-list. */
  constructor(options: GitMirrorOptions) {
    this.#options = options;
  }

  /** Whether the path is under `git/` (HTTPS remotes) or `git-http/` (plain-HTTP remotes). */
  handles(path: string): boolean {
    return path.startsWith("git/") || path.startsWith("git-http/");
  }

  /**
   * Directory of the bare clone for a host and normalised repository path.
   *
   * @param host The lower-case host (with port).
   * @param repoKey Repository path without `.git`.
   * @param scheme The upstream scheme; plain-HTTP clones live apart from HTTPS ones.
   * @returns The bare repository's path (host and path encoded when
   * {@linkcode GitMirrorOptions.encodeColons}).
   */
  repoDir(host: string, repoKey: string, scheme: "https" | "http" = "https"): string {
    const top = scheme === "http" ? "git-mirrors-http" : "git-mirrors";
    const relative = `${host}/${repoKey}.git`;
    const onDisk = toDiskPath(relative, this.#options.encodeColons ?? DEFAULT_ENCODE_COLONS);
    return join(this.#options.root, top, ...onDisk.split("/"));
  }

  /** Maps a smart-HTTP request to the repository's metadata route. */
  route(request: Request, path: string, _ctx: RouteContext): Promise<Route> {
    try {
      return Promise.resolve(this.#route(request, path));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #route(request: Request, path: string): Route {
    const parsed = parseGitPath(path);
    const url = new URL(request.url);
    if (parsed.service === "info/refs") {
      const service = url.searchParams.get("service");
      if (service !== "git-upload-pack") {
        throw new HttpError(
          service === "git-receive-pack" ? 403 : 400,
          service === "git-receive-pack"
            ? "Cannot push through the tfcache git mirror"
            : "Cannot serve dumb-HTTP git: this mirror speaks smart HTTP (service=git-upload-pack)",
        );
      }
    } else if (request.method !== "POST") {
      throw new HttpError(405, "git-upload-pack expects POST", { headers: { Allow: "POST" } });
    }
    let upstream: string;
    if (parsed.scheme === "http") {
      if (!(this.#options.plainHttpHosts ?? []).includes(parsed.host)) {
        throw new HttpError(
          404,
          `Cannot mirror plain-HTTP git host "${parsed.host}": not named in a git::http:// ` +
            "module source of this run's configuration",
        );
      }
      upstream = `http://${parsed.host}/${parsed.repo}`;
    } else {
      const hosts = this.#options.hosts;
      if (hosts !== undefined && !hosts.includes(parsed.host)) {
        throw new HttpError(404, `Cannot mirror git host "${parsed.host}": not configured`);
      }
      upstream = (this.#options.upstreamUrl ?? defaultUpstream)(parsed.host, parsed.repo);
    }
    const dir = this.repoDir(parsed.host, parsed.repoKey, parsed.scheme);
    return {
      key: `${parsed.scheme === "http" ? "git-http" : "git"}/${parsed.host}/${parsed.repoKey}.json`,
      kind: "metadata",
      contentType: "application/json",
      ...(parsed.service === "git-upload-pack" ? { methods: ["POST"] } : {}),
      produce: (ctx) => this.#produce(upstream, dir, ctx),
      serve: async (_object, ctx, req) => {
        if (!(await exists(join(dir, "HEAD")))) await this.#refresh(upstream, dir, ctx);
        return await httpBackend(req, dir, parsed.service, this.#gitOptions(ctx.signal));
      },
    };
  }

  #gitOptions(signal: AbortSignal): GitOptions {
    return { signal, ...(this.#options.git === undefined ? {} : { git: this.#options.git }) };
  }

  async #produce(upstream: string, dir: string, ctx: RouteContext): Promise<ProducedMetadata> {
    const state: GitMirrorState = {
      upstream: redactSource(upstream),
      refreshedAt: new Date().toISOString(),
    };
    try {
      await this.#refresh(upstream, dir, ctx);
    } catch (e) {
      if (!(await exists(join(dir, "HEAD")))) throw e;
      state.staleBecause = e instanceof Error ? e.message : String(e);
    }
    return {
      body: new TextEncoder().encode(`${JSON.stringify(state)}\n`),
      contentType: "application/json",
      extra: { upstream: state.upstream },
    };
  }

  /** One refresh per directory at a time in this process (the store lock covers processes). */
  #refresh(upstream: string, dir: string, ctx: RouteContext): Promise<void> {
    const running = this.#inflight.get(dir);
    if (running !== undefined) return running;
    const p = this.#doRefresh(upstream, dir, ctx).finally(() => this.#inflight.delete(dir));
    this.#inflight.set(dir, p);
    return p;
  }

  async #doRefresh(upstream: string, dir: string, ctx: RouteContext): Promise<void> {
    const opts = this.#gitOptions(ctx.signal);
    const effective = (await runGit(["ls-remote", "--get-url", upstream], opts)).stdout.trim();
    if (effective.startsWith(new URL("git/", ctx.baseUrl).href)) {
      throw new UpstreamError(
        redactSource(upstream),
        "git's insteadOf rules send this remote back to the cache itself; remove the tfcache " +
          "url.<base>.insteadOf entry from the git configuration of the cache server",
      );
    }
    try {
      if (await exists(join(dir, "HEAD"))) {
        await git(["fetch", "--prune", "--quiet", "origin"], { ...opts, cwd: dir });
        await setHead(dir, opts);
        return;
      }
      await Deno.mkdir(dirname(dir), { recursive: true });
      const tmp = `${dir}.tmp-${crypto.randomUUID()}`;
      try {
        await git(["init", "--quiet", "--bare", tmp], opts);
        const cfg = (k: string, v: string) => git(["config", "--add", k, v], { ...opts, cwd: tmp });
        await cfg("remote.origin.url", upstream);
        await cfg("remote.origin.fetch", "+refs/heads/*:refs/heads/*");
        await cfg("remote.origin.fetch", "+refs/tags/*:refs/tags/*");
        await cfg("remote.origin.mirror", "true");
        await cfg("uploadpack.allowReachableSHA1InWant", "true");
        await cfg("uploadpack.allowFilter", "true");
        await git(["fetch", "--prune", "--quiet", "origin"], { ...opts, cwd: tmp });
        await setHead(tmp, opts);
        await Deno.rename(tmp, dir).catch(async (e) => {
          if (!(await exists(join(dir, "HEAD")))) throw e; // lost a race: the winner's clone is fine
        });
      } finally {
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
      }
    } catch (e) {
      if (e instanceof HttpError || e instanceof UpstreamError) throw e;
      throw new UpstreamError(redactSource(upstream), e instanceof Error ? e.message : String(e), {
        cause: e,
      });
    }
  }
}

function defaultUpstream(host: string, path: string): string {
  return `https://${host}/${path}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Points the bare clone's HEAD at upstream's default branch (what `ls-remote --symref` shows). */
async function setHead(dir: string, opts: GitOptions): Promise<void> {
  const out = await runGit(["ls-remote", "--symref", "origin", "HEAD"], { ...opts, cwd: dir });
  const m = /^ref: (refs\/heads\/\S+)\tHEAD$/m.exec(out.stdout);
  if (m?.[1] !== undefined) await git(["symbolic-ref", "HEAD", m[1]], { ...opts, cwd: dir });
}

function parseGitPath(path: string): GitPath {
  const scheme = path.startsWith("git-http/") ? "http" : "https";
  const segments = path.split("/").slice(1);
  let service: GitPath["service"];
  let repoSegments: string[];
  if (segments.at(-1) === "git-upload-pack") {
    service = "git-upload-pack";
    repoSegments = segments.slice(1, -1);
  } else if (segments.at(-2) === "info" && segments.at(-1) === "refs") {
    service = "info/refs";
    repoSegments = segments.slice(1, -2);
  } else if (segments.at(-1) === "git-receive-pack") {
    throw new HttpError(403, "Cannot push through the tfcache git mirror");
  } else {
    throw new HttpError(404, `Cannot serve "${path}": only git smart-HTTP fetches are mirrored`);
  }
  const host = (segments[0] ?? "").toLowerCase();
  if (!HOST.test(host)) throw new HttpError(400, `Cannot mirror "${path}": bad host`);
  if (repoSegments.length === 0 || !repoSegments.every((s) => SEGMENT.test(s))) {
    throw new HttpError(400, `Cannot mirror "${path}": bad repository path`);
  }
  const repo = repoSegments.join("/");
  const repoKey = repo.endsWith(".git") ? repo.slice(0, -4) : repo;
  if (repoKey === "" || repoKey.endsWith("/")) {
    throw new HttpError(400, `Cannot mirror "${path}": bad repository path`);
  }
  return { host, repo, repoKey, service, scheme };
}

/**
 * Answers one smart-HTTP request by running `git http-backend` as a CGI against a bare clone.
 *
 * @param request The inbound request (its body is the upload-pack request for POST).
 * @param repoDir The bare repository.
 * @param service `info/refs` or `git-upload-pack`.
 * @param options Git executable and cancellation.
 * @returns The CGI response, streamed.
 */
export async function httpBackend(
  request: Request,
  repoDir: string,
  service: "info/refs" | "git-upload-pack",
  options: GitOptions = {},
): Promise<Response> {
  const url = new URL(request.url);
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    GIT_PROJECT_ROOT: dirname(repoDir),
    GIT_HTTP_EXPORT_ALL: "1",
    GIT_CONFIG_NOSYSTEM: "1",
    PATH_INFO: `/${repoDir.slice(dirname(repoDir).length + 1)}/${service}`,
    REQUEST_METHOD: request.method,
    QUERY_STRING: url.search.slice(1),
    REMOTE_ADDR: "127.0.0.1",
    CONTENT_TYPE: request.headers.get("content-type") ?? "",
  };
  const home = Deno.env.get("HOME");
  if (home !== undefined) env.HOME = home;
  const protocol = request.headers.get("git-protocol");
  if (protocol !== null) env.GIT_PROTOCOL = protocol;
  const encoding = request.headers.get("content-encoding");
  if (encoding !== null) env.HTTP_CONTENT_ENCODING = encoding;
  const child = new Deno.Command(options.git ?? "git", {
    args: ["http-backend"],
    clearEnv: true,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const feeding = (async () => {
    if (request.body !== null) {
      await request.body.pipeTo(child.stdin);
    } else {
      await child.stdin.close();
    }
  })().catch(() => {});
  const reader = child.stdout.getReader();
  let buf = new Uint8Array(0);
  let headerEnd = -1;
  while (headerEnd === -1) {
    const { value, done } = await reader.read();
    if (done) break;
    const merged = new Uint8Array(buf.byteLength + value.byteLength);
    merged.set(buf);
    merged.set(value, buf.byteLength);
    buf = merged;
    headerEnd = findHeaderEnd(buf);
    if (buf.byteLength > 64 * 1024 && headerEnd === -1) break;
  }
  if (headerEnd === -1) {
    await reader.cancel().catch(() => {});
    await feeding;
    const status = await child.status;
    throw new HttpError(
      502,
      `git http-backend failed (exit ${status.code}): ${(await stderr).trim().slice(-500)}`,
    );
  }
  const headText = new TextDecoder().decode(buf.subarray(0, headerEnd));
  const rest = buf.subarray(headerEnd + (buf[headerEnd] === 13 ? 4 : 2));
  const headers = new Headers();
  let status = 200;
  for (const line of headText.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") status = parseInt(value, 10) || 200;
    else headers.append(name, value);
  }
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (rest.byteLength > 0) controller.enqueue(rest);
    },
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) {
        controller.close();
        await feeding;
        await child.status;
        await stderr;
      } else {
        controller.enqueue(value);
      }
    },
    async cancel() {
      await reader.cancel().catch(() => {});
      try {
        child.kill();
      } catch { /* already exited */ }
      await feeding;
      await child.status;
      await stderr;
    },
  });
  return new Response(status === 204 || status === 304 ? null : body, { status, headers });
}

function findHeaderEnd(buf: Uint8Array): number {
  for (let i = 0; i + 1 < buf.byteLength; i++) {
    if (buf[i] === 10 && buf[i + 1] === 10) return i;
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

/** Options for {@linkcode gitInsteadOfEnv}. */
export interface GitInsteadOfOptions {
  /** The environment the child would inherit (existing `GIT_CONFIG_COUNT` entries are kept). */
  inherited?: Record<string, string | undefined>;
  /** Also rewrite `ssh://git@<host>/` and `git@<host>:` remotes to the (HTTPS-backed) mirror. */
  ssh?: boolean;
  /** CA bundle git must trust for the cache's HTTPS base URL (`http.<base>.sslCAInfo`). */
  caFile?: string;
  /** Upstream URL schemes rewritten (default `["https"]`; tests add `http`). */
  schemes?: readonly string[];
  /**
   * Hosts whose `http://<host>/` remotes go to the mirror's plain-HTTP namespace
   * (`url.<base>git-http/<host>/.insteadOf = http://<host>/`).
   */
  plainHttpHosts?: readonly string[];
}

/**
 * The `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` entries that route git remotes
 * on `hosts` through the cache: `url.<base>git/<host>/.insteadOf = https://<host>/`.
 *
 * @example
 * ```ts
 * gitInsteadOfEnv(new URL("http://127.0.0.1:8080/s3cr3t/"), ["github.com"]);
 * // { GIT_CONFIG_COUNT: "1",
 * //   GIT_CONFIG_KEY_0: "url.http://127.0.0.1:8080/s3cr3t/git/github.com/.insteadOf",
 * //   GIT_CONFIG_VALUE_0: "https://github.com/" }
 * ```
 * @param baseUrl The cache's base URL for this run (trailing slash).
 * @param hosts Git hosts to route (e.g. `github.com`).
 * @param options Inherited environment, SSH rewriting, CA file.
 * @returns Environment entries to add to the child's environment.
 */
export function gitInsteadOfEnv(
  baseUrl: URL,
  hosts: readonly string[],
  options: GitInsteadOfOptions = {},
): Record<string, string> {
  const inheritedCount = Number(options.inherited?.GIT_CONFIG_COUNT ?? "0");
  let n = Number.isInteger(inheritedCount) && inheritedCount > 0 ? inheritedCount : 0;
  const env: Record<string, string> = {};
  const add = (key: string, value: string) => {
    env[`GIT_CONFIG_KEY_${n}`] = key;
    env[`GIT_CONFIG_VALUE_${n}`] = value;
    n++;
  };
  const base = baseUrl.href.endsWith("/") ? baseUrl.href : `${baseUrl.href}/`;
  for (const raw of hosts) {
    const host = raw.toLowerCase();
    if (!HOST.test(host)) throw new TypeError(`Cannot route git host "${raw}": not a hostname`);
    const key = `url.${base}git/${host}/.insteadOf`;
    for (const scheme of options.schemes ?? ["https"]) add(key, `${scheme}://${host}/`);
    if (options.ssh === true) {
      add(key, `ssh://git@${host}/`);
      add(key, `git@${host}:`);
    }
  }
  for (const raw of options.plainHttpHosts ?? []) {
    const host = raw.toLowerCase();
    if (!HOST.test(host)) throw new TypeError(`Cannot route git host "${raw}": not a hostname`);
    add(`url.${base}git-http/${host}/.insteadOf`, `http://${host}/`);
  }
  if (options.caFile !== undefined && base.startsWith("https:")) {
    add(`http.${base}.sslCAInfo`, options.caFile);
  }
  env.GIT_CONFIG_COUNT = String(n);
  return env;
}

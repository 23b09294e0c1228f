/**
 * Parses go-getter source strings the way Terraform 1.11's module installer does (forced getters,
 * `github.com/…` and `git@host:…` shorthands, `//subdir`, `?ref=`, `?depth=`, `?archive=`,
 * archive suffixes) and classifies them into what the cache can fetch.
 *
 * @module
 */

import { ModuleSourceError } from "./module_source_errors.ts";

/** Archive formats Terraform's module installer unpacks, keyed by the suffix go-getter matches. */
export const ARCHIVE_SUFFIXES: Readonly<Record<string, ArchiveFormat>> = {
  "tar.gz": "tar.gz",
  "tgz": "tar.gz",
  "zip": "zip",
  "tar.bz2": "tar.bz2",
  "tar.tbz2": "tar.bz2",
  "tbz2": "tar.bz2",
  "tar.xz": "tar.xz",
  "txz": "tar.xz",
  // Single-file decompressors Terraform also registers; useless for module packages.
  "gz": "gz",
  "bz2": "bz2",
  "xz": "xz",
};

/** An archive format go-getter recognises. Only `tar.gz` and `zip` are fetched by the cache. */
export type ArchiveFormat = "tar.gz" | "zip" | "tar.bz2" | "tar.xz" | "gz" | "bz2" | "xz";

/**
 * Splits a source into package address and sub-directory exactly like go-getter's
 * `SourceDirSubdir` (the variant Terraform 1.11 vendors): the first `//` after the scheme and
 * before the query starts the subdir; a query found after the subdir moves back onto the base.
 *
 * @example
 * ```ts
 * splitSubdir("git::https://h/r.git//modules/x?ref=v1"); // ["git::https://h/r.git?ref=v1", "modules/x"]
 * ```
 * @param source A go-getter source string.
 * @returns `[base, subdir]`; subdir is `""` when absent.
 */
export function splitSubdir(source: string): [base: string, subdir: string] {
  const queryAt = source.indexOf("?");
  const stop = queryAt === -1 ? source.length : queryAt;
  const schemeAt = source.slice(0, stop).indexOf("://");
  const offset = schemeAt === -1 ? 0 : schemeAt + 3;
  const rel = source.slice(offset, stop).indexOf("//");
  if (rel === -1) return [source, ""];
  const at = offset + rel;
  let subdir = source.slice(at + 2);
  let base = source.slice(0, at);
  const q = subdir.indexOf("?");
  if (q !== -1) {
    base += subdir.slice(q);
    subdir = subdir.slice(0, q);
  }
  return [base, subdir];
}

/** Joins a base and a subdir back into one go-getter source (the subdir goes before the query). */
export function joinSubdir(base: string, subdir: string): string {
  if (subdir === "") return base;
  const [head, query] = splitQuery(base);
  return `${head}//${subdir}${query}`;
}

/** A source string after go-getter detection: an explicit getter and a URL, subdir split off. */
export interface NormalizedSource {
  /** Getter name: `git`, `http`, `https`, `s3`, `gcs`, `hg`, `file`, … */
  getter: string;
  /** Whether the getter was forced with `<getter>::`. */
  forced: boolean;
  /** The URL handed to the getter (query included, subdir excluded). */
  url: string;
  /** Sub-directory inside the package (`""` when absent); may contain go-getter globs. */
  subdir: string;
  /** Canonical base: `<getter>::<url>`; identical sources give identical strings. */
  base: string;
}

const FORCED = /^([A-Za-z0-9]+)::(.+)$/s;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const SCP_LIKE = /^([A-Za-z0-9._-]+)@([A-Za-z0-9.-]+):([^?]*)(\?.*)?$/s;

/**
 * Normalises a remote go-getter source as Terraform's module installer does: applies the
 * forced getter, then (for strings without a URL scheme) the GitHub, git-over-SSH, GCS and S3
 * detectors, and splits off the subdir.
 *
 * @param source A remote module source (from a `module` block or an `X-Terraform-Get` value).
 * @returns The normalised source.
 * @throws {ModuleSourceError} for empty, local or unrecognised sources.
 */
export function normalizeSource(source: string): NormalizedSource {
  const raw = source.trim();
  if (raw === "") throw new ModuleSourceError(source, "the source is empty");
  if (raw.startsWith("./") || raw.startsWith("../") || raw.startsWith("/")) {
    throw new ModuleSourceError(source, "local paths are not remote module sources");
  }
  const forcedMatch = FORCED.exec(raw);
  let forced = forcedMatch?.[1]?.toLowerCase();
  const rest = forcedMatch?.[2] ?? raw;
  const [detectable, explicitSubdir] = splitSubdir(rest);
  let url: string;
  let subdir = explicitSubdir;
  if (hasUrlScheme(detectable)) {
    url = detectable;
  } else {
    const detected = detect(detectable, source);
    // A detector may turn extra path segments into a subdir (github.com/o/r/sub).
    const [detectedUrl, detectedSubdir] = splitSubdir(detected.url);
    url = detectedUrl;
    subdir = [detectedSubdir, explicitSubdir].filter((s) => s !== "").join("/");
    forced ??= detected.getter;
  }
  const getter = forced ?? urlScheme(url);
  if (getter === undefined) {
    throw new ModuleSourceError(source, "no getter applies (expected a URL or a known shorthand)");
  }
  const cleanSubdir = cleanSubdirPath(subdir, source);
  return {
    getter,
    forced: forcedMatch !== null,
    url,
    subdir: cleanSubdir,
    base: `${getter}::${url}`,
  };
}

function hasUrlScheme(s: string): boolean {
  // Like Go's url.Parse: "git@host:org/repo" has no scheme ("@" is not a scheme character).
  return SCHEME.test(s);
}

function urlScheme(url: string): string | undefined {
  return SCHEME.exec(url)?.[1]?.toLowerCase();
}

function detect(src: string, original: string): { getter: string; url: string } {
  if (src.startsWith("github.com/")) return detectGitHub(src, original);
  if (src.startsWith("git@")) return detectScpLike(src, original);
  if (/^[^/]+\.amazonaws\.com\//.test(src)) return { getter: "s3", url: `https://${src}` };
  if (src.startsWith("www.googleapis.com/storage/")) {
    return { getter: "gcs", url: `https://${src}` };
  }
  throw new ModuleSourceError(
    original,
    "it is neither a URL nor a shorthand Terraform recognises (github.com/…, git@host:…)",
  );
}

function detectGitHub(src: string, original: string): { getter: string; url: string } {
  const [head, query] = splitQuery(src);
  const parts = head.split("/");
  if (parts.length < 3 || parts[1] === "" || parts[2] === "") {
    throw new ModuleSourceError(original, "GitHub shorthand needs github.com/<owner>/<repo>");
  }
  let path = `/${parts[1]}/${parts[2]}`;
  if (!path.endsWith(".git")) path += ".git";
  if (parts.length > 3) path += `//${parts.slice(3).join("/")}`;
  return { getter: "git", url: `https://github.com${path}${query}` };
}

function detectScpLike(src: string, original: string): { getter: string; url: string } {
  const m = SCP_LIKE.exec(src);
  if (m === null) throw new ModuleSourceError(original, "malformed git@host:path shorthand");
  const [, user, host, path = "", query = ""] = m;
  if (path.startsWith("/")) {
    throw new ModuleSourceError(original, "git@host:path must use a relative path");
  }
  if (/^\d+\//.test(path)) {
    throw new ModuleSourceError(
      original,
      "git@host:port/path is ambiguous; use git::ssh://user@host:port/path instead",
    );
  }
  return { getter: "git", url: `ssh://${user}@${host}/${path}${query}` };
}

function cleanSubdirPath(subdir: string, source: string): string {
  if (subdir === "") return "";
  const parts: string[] = [];
  for (const p of subdir.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") {
      if (parts.length === 0) throw new ModuleSourceError(source, "the subdir leaves the package");
      parts.pop();
      continue;
    }
    parts.push(p);
  }
  return parts.join("/");
}

/** Splits `a?b` into `["a", "?b"]` (the query keeps its `?`; `""` when absent). */
export function splitQuery(s: string): [string, string] {
  const q = s.indexOf("?");
  return q === -1 ? [s, ""] : [s.slice(0, q), s.slice(q)];
}

/** A git source the cache can clone. */
export interface GitSourceSpec {
  /** Discriminant. */
  type: "git";
  /** Remote URL handed to `git` (ref/depth/sshkey removed from the query). */
  remote: string;
  /** `?ref=`: branch, tag or commit (full or abbreviated); `undefined` for the default branch. */
  ref?: string;
  /** `?depth=` when given (positive integer). */
  depth?: number;
}

/** An HTTP(S) archive the cache can download and unpack. */
export interface ArchiveSourceSpec {
  /** Discriminant. */
  type: "archive";
  /** URL to download (`?archive=` removed). */
  url: string;
  /** The archive format (from `?archive=` or the path suffix). */
  format: "tar.gz" | "zip";
}

/** A source the cache does not fetch; it is handed to Terraform unchanged. */
export interface UnsupportedSourceSpec {
  /** Discriminant. */
  type: "unsupported";
  /** Why, for logs. */
  reason: string;
}

/** What the cache does with one normalised source base. */
export type SourceSpec = GitSourceSpec | ArchiveSourceSpec | UnsupportedSourceSpec;

/** Options for {@linkcode classifySource}. */
export interface ClassifyOptions {
  /** Accept `git::file://` remotes (tests only: a shared cache must not read local repositories). */
  allowFileRemotes?: boolean;
}

/**
 * Decides how the cache fetches a normalised source (subdir already split off).
 *
 * @param source The normalised source.
 * @param options See {@linkcode ClassifyOptions}.
 * @returns A git spec, an archive spec, or `unsupported` with a reason.
 * @throws {ModuleSourceError} for malformed `ref`/`depth`/`archive` parameters.
 */
export function classifySource(
  source: NormalizedSource,
  options: ClassifyOptions = {},
): SourceSpec {
  const original = source.base;
  if (source.getter === "git") return classifyGit(source.url, original, options);
  if (source.getter === "http" || source.getter === "https") {
    return classifyHttp(source.url, original);
  }
  return { type: "unsupported", reason: `the "${source.getter}" getter is not cached` };
}

function classifyGit(rawUrl: string, original: string, options: ClassifyOptions): SourceSpec {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch (cause) {
    throw new ModuleSourceError(original, `the git URL does not parse: ${String(cause)}`);
  }
  const schemes = ["https:", "http:", "ssh:", "git:"];
  if (options.allowFileRemotes === true) schemes.push("file:");
  if (!schemes.includes(url.protocol)) {
    return { type: "unsupported", reason: `git over "${url.protocol}" is not cached` };
  }
  const params = url.searchParams;
  if (params.has("sshkey")) {
    return { type: "unsupported", reason: "git sources with ?sshkey= are not cached" };
  }
  const ref = params.get("ref") ?? undefined;
  const depthRaw = params.get("depth");
  params.delete("ref");
  params.delete("depth");
  if (ref !== undefined && (ref === "" || ref.startsWith("-") || /[\s\0]/.test(ref))) {
    throw new ModuleSourceError(original, `invalid ?ref= value "${ref}"`);
  }
  let depth: number | undefined;
  if (depthRaw !== null) {
    if (!/^\d{1,9}$/.test(depthRaw)) {
      throw new ModuleSourceError(
        original,
        `?depth= must be a non-negative integer, got "${depthRaw}"`,
      );
    }
    const n = Number(depthRaw);
    if (n > 0) depth = n;
  }
  const remote = url.search === "" ? rawUrl.replace(/\?.*$/s, "") : url.href;
  const spec: GitSourceSpec = { type: "git", remote };
  if (ref !== undefined) spec.ref = ref;
  if (depth !== undefined) spec.depth = depth;
  return spec;
}

function classifyHttp(rawUrl: string, original: string): SourceSpec {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch (cause) {
    throw new ModuleSourceError(original, `the URL does not parse: ${String(cause)}`);
  }
  let format: ArchiveFormat | undefined;
  const archive = url.searchParams.get("archive");
  if (archive !== null) {
    url.searchParams.delete("archive");
    if (["false", "0", "f", "F", "FALSE", "False"].includes(archive)) {
      return { type: "unsupported", reason: "?archive=false asks for a plain file" };
    }
    format = ARCHIVE_SUFFIXES[archive];
    if (format === undefined) {
      throw new ModuleSourceError(original, `unknown ?archive= type "${archive}"`);
    }
  } else {
    let best = "";
    for (const suffix of Object.keys(ARCHIVE_SUFFIXES)) {
      if (url.pathname.endsWith(`.${suffix}`) && suffix.length > best.length) best = suffix;
    }
    format = best === "" ? undefined : ARCHIVE_SUFFIXES[best];
  }
  if (format === undefined) {
    return { type: "unsupported", reason: "an HTTP source without an archive suffix" };
  }
  if (format !== "tar.gz" && format !== "zip") {
    return { type: "unsupported", reason: `${format} archives are not cached` };
  }
  const href = url.search === "" && !rawUrl.includes("?") ? rawUrl : url.href;
  return { type: "archive", url: href, format };
}

/**
 * The cache id of a source base: lowercase hex SHA-256 of the canonical base string.
 *
 * @param base A canonical base ({@linkcode NormalizedSource.base}).
 * @returns 64 hex characters.
 */
export async function sourceId(base: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(base));
  return new Uint8Array(digest).toHex();
}

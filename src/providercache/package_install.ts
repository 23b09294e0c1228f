/**
 * Placing one package into a cache directory, for each kind of location
 * (reference-providercache §1.6), always atomically: the package is prepared in a temporary
 * sibling of the target (`.tmp_<platform>_<random>` in the version directory), verified against
 * the allowed hashes, and only then renamed into place, so a package directory appears whole or
 * not at all. A crash leaves only a temporary sibling, which {@linkcode sweepTemporaries} removes
 * on a later install of the same package (under its lock).
 *
 * - {@linkcode installFromArchive}: a local zip, extracted with the safe extractor;
 * - {@linkcode installFromUrl}: an http(s) zip downloaded (through an injected fetch) to a
 *   temporary file next to the target, then installed as an archive;
 * - {@linkcode installFromDirectory}: an unpacked directory, symlinked (absolute link text) or,
 *   where links are impossible, deep-copied (dot-files skipped, modes kept).
 *
 * An existing target with the same content is kept (never rewriting a possibly running binary);
 * a different one is replaced by a rename swap.
 *
 * These functions take no lock; {@linkcode Dir} calls them under the package's lock.
 *
 * @module
 */

import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import {
  HASH_SCHEME_ZIP,
  matchesAnyHash,
  packageHashV1FromDir,
  zipHash,
} from "../registry/hashes.ts";
import type { FetchLike } from "../registry/fetch_like.ts";
import type { ProviderAddress } from "../registry/provider_address.ts";
import { type Version, versionString } from "../registry/version.ts";
import {
  ArchiveChecksumError,
  PackageDownloadError,
  PackageHashMismatchError,
  ProviderInstallError,
} from "./errors.ts";
import { type ExtractLimits, extractProviderZip } from "./zip_extract.ts";

/** Identifies the package being installed (for messages). */
export interface PackageIdentity {
  /** The provider. */
  readonly provider: ProviderAddress;
  /** The version. */
  readonly version: Version;
}

/** Common options of the install functions. */
export interface InstallOptions extends PackageIdentity {
  /** When non-empty, the package must match one of these (`h1:` or, for archives, `zh:`). */
  readonly allowedHashes?: readonly string[] | undefined;
  /** Aborts the install. */
  readonly signal?: AbortSignal | undefined;
}

/** Options of {@linkcode installFromArchive}. */
export interface ArchiveInstallOptions extends InstallOptions {
  /** Hex SHA-256 the archive must have (a registry's `shasum`), checked before extraction. */
  readonly expectedSha256?: string | undefined;
  /**
   * Hex SHA-256 of the archive, already verified by the caller (for example, a cache that hashed
   * the file while committing it and never rewrites it): used instead of reading and hashing
   * the archive again. Leave it unset unless the file cannot have changed since.
   */
  readonly knownSha256?: string | undefined;
  /** Hashes a mirror reported for this package: it must match one of them (`h1:` or `zh:`). */
  readonly reportedHashes?: readonly string[] | undefined;
  /** Extraction bounds. */
  readonly limits?: ExtractLimits | undefined;
}

/** Options of {@linkcode installFromUrl}. */
export interface UrlInstallOptions extends ArchiveInstallOptions {
  /** The HTTP function (default: global `fetch`). */
  readonly fetch?: FetchLike | undefined;
  /** Retries on network errors, 429 and 5xx other than 501 (default 2, as terraform). */
  readonly retries?: number | undefined;
  /** First retry delay in ms, doubled each time (default 500). */
  readonly retryDelayMs?: number | undefined;
}

/** Options of {@linkcode installFromDirectory}. */
export interface DirectoryInstallOptions extends InstallOptions {
  /** `auto` (default): symlink, copy when that fails; `copy`: always copy; `symlink`: never copy. */
  readonly linkMode?: "auto" | "copy" | "symlink" | undefined;
}

/** What an archive install established. */
export interface ArchiveInstallResult {
  /** `h1:` of the installed directory. */
  readonly h1: string;
  /** `zh:` of the archive. */
  readonly zh: string;
  /** The allowed hashes that matched. */
  readonly matched: readonly string[];
}

/** A committed local copy of a package URL's bytes, with their verified SHA-256. */
export interface LocalArtifact {
  /** Path of the file (read-only for the installer). */
  readonly path: string;
  /** Lower-case hex SHA-256 of the file, as verified when it was stored. */
  readonly sha256: string;
  /** Size of the file in bytes. */
  readonly size: number;
}

/**
 * Resolves a package URL to a local file that already holds its verified bytes (filling it
 * first when needed), or `undefined` when it cannot (the URL is then downloaded as usual).
 */
export type ArtifactLocator = (
  url: string,
  signal: AbortSignal | undefined,
) => Promise<LocalArtifact | undefined>;

/** A {@linkcode FetchLike} that can also hand out local copies of package URLs. */
export type LocatingFetch = FetchLike & { readonly locateArtifact: ArtifactLocator };

/**
 * Attaches an {@linkcode ArtifactLocator} to a fetch function, so {@linkcode installFromUrl}
 * (reached through `Dir` and `Installer`, which only pass a fetch along) extracts package URLs
 * straight from the local file instead of downloading them to a temporary copy.
 *
 * @param fetch The HTTP function.
 * @param locateArtifact Resolves package URLs to verified local files.
 * @returns A function that fetches like `fetch` and carries `locateArtifact`.
 */
export function withArtifactLocator(
  fetch: FetchLike,
  locateArtifact: ArtifactLocator,
): LocatingFetch {
  const wrapped: FetchLike = (url, init) => fetch(url, init);
  return Object.assign(wrapped, { locateArtifact });
}

function _locatorOf(fetch: FetchLike | undefined): ArtifactLocator | undefined {
  const candidate = (fetch as Partial<LocatingFetch> | undefined)?.locateArtifact;
  return typeof candidate === "function" ? candidate : undefined;
}

interface _PlacedRecord {
  readonly h1: string;
  readonly dev: number;
  readonly ino: number;
  readonly mtimeMs: number;
}

const _MAX_PLACED = 256;
const _placed = new Map<string, _PlacedRecord>();

async function _rememberPlaced(targetDir: string, h1: string): Promise<void> {
  const key = resolve(targetDir);
  _placed.delete(key);
  const info = await Deno.lstat(key).catch(() => undefined);
  if (info === undefined || info.ino === null || info.mtime === null) return;
  _placed.set(key, { h1, dev: info.dev, ino: info.ino, mtimeMs: info.mtime.getTime() });
  while (_placed.size > _MAX_PLACED) _placed.delete(_placed.keys().next().value!);
}

/**
 * The `h1:` of a package directory this process installed with {@linkcode installFromArchive}
 * (computed while extracting), when that very directory is still in place: same device, inode
 * and modification time as right after it was placed (a replacement by another process, or an
 * added or removed file, changes them). Saves walking and hashing a freshly installed package.
 *
 * @param packageDir The package directory.
 * @returns The `h1:`, or `undefined` when unknown or possibly stale (hash the directory then).
 */
export async function installedPackageHash(packageDir: string): Promise<string | undefined> {
  const key = resolve(packageDir);
  const record = _placed.get(key);
  if (record === undefined) return undefined;
  const info = await Deno.lstat(key).catch(() => undefined);
  if (
    info === undefined || info.dev !== record.dev || info.ino !== record.ino ||
    info.mtime?.getTime() !== record.mtimeMs
  ) {
    _placed.delete(key);
    return undefined;
  }
  return record.h1;
}

const _RANDOM = () => crypto.randomUUID().slice(0, 8);

function _tempSibling(target: string, kind: "tmp" | "old", suffix = ""): string {
  return join(dirname(target), `.${kind}_${basename(target)}_${_RANDOM()}${suffix}`);
}

/**
 * Removes leftovers of interrupted installs of one package: `.tmp_<platform>_*` and
 * `.old_<platform>_*` siblings of `targetDir`. Call it only while holding the package's lock.
 *
 * @param targetDir The package directory (`…/VERSION/OS_ARCH`).
 * @returns How many leftovers were removed.
 */
export async function sweepTemporaries(targetDir: string): Promise<number> {
  const parent = dirname(targetDir);
  const name = basename(targetDir);
  let removed = 0;
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(parent));
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (e.name.startsWith(`.tmp_${name}_`) || e.name.startsWith(`.old_${name}_`)) {
      await removeAny(join(parent, e.name));
      removed++;
    }
  }
  return removed;
}

/**
 * Removes a file, a symlink (the link only) or a directory tree; absent is fine.
 *
 * @param path What to remove.
 */
export async function removeAny(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  try {
    if (info.isDirectory) await Deno.remove(path, { recursive: true });
    else await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

async function _lstat(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/**
 * Moves a prepared package (`tmp`: a directory or a symlink) to `target` atomically; an existing
 * target is swapped out (renamed aside, then removed).
 */
async function _place(tmp: string, target: string): Promise<void> {
  if (await _lstat(target) === undefined) {
    await Deno.rename(tmp, target);
    return;
  }
  const aside = _tempSibling(target, "old");
  await Deno.rename(target, aside);
  try {
    await Deno.rename(tmp, target);
  } catch (err) {
    await Deno.rename(aside, target).catch(() => {});
    throw err;
  }
  await removeAny(aside);
}

/**
 * Installs a local provider zip into `targetDir` (§1.6 A): checks the expected SHA-256, extracts
 * into a temporary sibling, checks the allowed hashes against the archive (`zh:`) and the
 * extracted tree (`h1:`), then renames it into place.
 *
 * @param zipPath The zip.
 * @param targetDir The package directory to create (`…/VERSION/OS_ARCH`).
 * @param options Identity, allowed hashes, expected checksum, limits, signal.
 * @returns The hashes established.
 * @throws {ArchiveChecksumError} when the archive's SHA-256 is not the expected one.
 * @throws {PackageHashMismatchError} when no allowed hash matches.
 * @throws {import("./errors.ts").UnsafeArchiveEntryError} for hostile entries.
 * @throws {import("./errors.ts").ArchiveLimitError} when the archive is too big.
 * @throws {import("../registry/errors.ts").ZipFormatError} when it is not a zip.
 */
export async function installFromArchive(
  zipPath: string,
  targetDir: string,
  options: ArchiveInstallOptions,
): Promise<ArchiveInstallResult> {
  const allowed = options.allowedHashes ?? [];
  const zh = options.knownSha256 !== undefined
    ? HASH_SCHEME_ZIP + options.knownSha256.toLowerCase()
    : await zipHash(zipPath);
  if (options.expectedSha256 !== undefined) {
    const want = HASH_SCHEME_ZIP + options.expectedSha256.toLowerCase();
    if (zh !== want) throw new ArchiveChecksumError(zipPath, want, zh);
  }
  await Deno.mkdir(dirname(targetDir), { recursive: true, mode: 0o755 });
  const tmp = _tempSibling(targetDir, "tmp");
  await Deno.mkdir(tmp, { mode: 0o755 });
  try {
    // The h1 of the extracted tree is computed from the bytes as they are written.
    const { h1 } = await extractProviderZip(zipPath, tmp, {
      limits: options.limits,
      signal: options.signal,
    });
    const reported = options.reportedHashes;
    if (reported !== undefined && reported.length > 0) {
      if (!reported.some((h) => h === h1 || h === zh)) {
        throw new ProviderInstallError(
          reported.length === 1
            ? `provider package doesn't match the expected checksum "${reported[0]}"`
            : "provider package doesn't match any of the expected checksums",
        );
      }
    }
    const matched = allowed.filter((h) => h === h1 || h === zh);
    if (allowed.length > 0 && matched.length === 0) {
      throw new PackageHashMismatchError(
        options.provider,
        versionString(options.version),
        allowed,
        "current package",
      );
    }
    options.signal?.throwIfAborted();
    const existing = await _lstat(targetDir);
    if (existing?.isDirectory && !existing.isSymlink) {
      const current = await packageHashV1FromDir(targetDir).catch(() => undefined);
      if (current === h1) {
        await removeAny(tmp);
        await _rememberPlaced(targetDir, h1);
        return { h1, zh, matched };
      }
    }
    await _place(tmp, targetDir);
    await _rememberPlaced(targetDir, h1);
    return { h1, zh, matched };
  } catch (err) {
    await removeAny(tmp);
    throw err;
  }
}

/**
 * Downloads an http(s) provider zip to a temporary file next to `targetDir` and installs it with
 * {@linkcode installFromArchive}. The temporary file is always removed.
 *
 * When the fetch carries an {@linkcode ArtifactLocator} (see {@linkcode withArtifactLocator})
 * that resolves the URL, nothing is downloaded: the package is extracted straight from the
 * located file, whose verified SHA-256 stands for the archive's `zh:` (the expected checksum
 * and the allowed hashes are checked exactly as for a download).
 *
 * @param url The package URL.
 * @param targetDir The package directory to create.
 * @param options Identity, fetch, allowed hashes, expected checksum, limits, signal, retries.
 * @returns The hashes established.
 * @throws {PackageDownloadError} for HTTP errors, network errors, truncation or cancellation.
 */
export async function installFromUrl(
  url: string,
  targetDir: string,
  options: UrlInstallOptions,
): Promise<ArchiveInstallResult> {
  const locate = _locatorOf(options.fetch);
  const local = locate === undefined ? undefined : await locate(url, options.signal);
  if (
    local !== undefined && (await Deno.stat(local.path).catch(() => undefined))?.size === local.size
  ) {
    return await installFromArchive(local.path, targetDir, {
      ...options,
      knownSha256: local.sha256,
    });
  }
  await Deno.mkdir(dirname(targetDir), { recursive: true, mode: 0o755 });
  const tmpZip = _tempSibling(targetDir, "tmp", ".zip");
  try {
    await downloadToFile(url, tmpZip, options);
    return await installFromArchive(tmpZip, targetDir, options);
  } finally {
    await removeAny(tmpZip);
  }
}

/**
 * Downloads `url` to `dest` with terraform's retry policy and error wording.
 *
 * @param url The URL.
 * @param dest The file to write.
 * @param options Fetch, signal, retries.
 * @throws {PackageDownloadError} on failure.
 */
export async function downloadToFile(
  url: string,
  dest: string,
  options: Pick<UrlInstallOptions, "fetch" | "signal" | "retries" | "retryDelayMs"> = {},
): Promise<void> {
  const doFetch: FetchLike = options.fetch ?? ((u, i) => fetch(u, i));
  const retries = options.retries ?? 2;
  let delay = options.retryDelayMs ?? 500;
  const signal = options.signal;
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  for (let attempt = 0;; attempt++) {
    if (signal?.aborted) {
      throw new PackageDownloadError(url, "provider download was interrupted", {
        cause: signal.reason,
      });
    }
    let response: Response;
    try {
      response = await doFetch(url, {
        purpose: "artifact",
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (cause) {
      if (signal?.aborted) {
        throw new PackageDownloadError(url, "provider download was interrupted", { cause });
      }
      if (attempt < retries) {
        await _sleep(delay, signal);
        delay *= 2;
        continue;
      }
      throw new PackageDownloadError(url, `${host}: ${(cause as Error).message}`, { cause });
    }
    const retryable = response.status === 429 ||
      (response.status >= 500 && response.status !== 501);
    if (retryable && attempt < retries) {
      await response.body?.cancel();
      await _sleep(delay, signal);
      delay *= 2;
      continue;
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new PackageDownloadError(
        url,
        `unsuccessful request to ${url}: ${response.status} ${response.statusText}`.trimEnd(),
        { status: response.status },
      );
    }
    const declared = response.headers.get("content-length");
    let received = 0;
    const file = await Deno.open(dest, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      if (response.body !== null) {
        for await (const chunk of response.body) {
          received += chunk.length;
          let off = 0;
          while (off < chunk.length) off += await file.write(chunk.subarray(off));
        }
      }
    } catch (cause) {
      if (signal?.aborted) {
        throw new PackageDownloadError(url, "provider download was interrupted", { cause });
      }
      throw new PackageDownloadError(url, `${host}: ${(cause as Error).message}`, { cause });
    } finally {
      file.close();
    }
    if (declared !== null && /^[0-9]+$/.test(declared) && Number(declared) !== received) {
      throw new PackageDownloadError(
        url,
        `incorrect response size: expected ${declared} bytes, but got ${received} bytes`,
      );
    }
    return;
  }
}

function _sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((res, rej) => {
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      res();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      rej(new PackageDownloadError("", "provider download was interrupted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Installs an unpacked package directory (§1.6 C): checks the allowed hashes (skipped when all
 * of them are `zh:`, which cannot be checked against a directory), then places an absolute
 * symlink to it, or a deep copy where symlinks are impossible.
 *
 * @param sourceDir The unpacked package.
 * @param targetDir The package directory to create.
 * @param options Identity, allowed hashes, link mode.
 * @throws {ProviderInstallError} when source and target are the same directory, or neither a
 *   link nor a copy could be made.
 * @throws {PackageHashMismatchError} when no allowed hash matches.
 */
export async function installFromDirectory(
  sourceDir: string,
  targetDir: string,
  options: DirectoryInstallOptions,
): Promise<void> {
  const absSource = resolve(sourceDir);
  const absTarget = resolve(targetDir);
  if (await _sameFile(absSource, absTarget)) {
    throw new ProviderInstallError(
      `cannot install existing provider directory ${absTarget} to itself`,
    );
  }
  const allowed = options.allowedHashes ?? [];
  if (allowed.some((h) => !h.startsWith(HASH_SCHEME_ZIP))) {
    let ok: boolean;
    try {
      ok = await matchesAnyHash(absSource, allowed);
    } catch (cause) {
      throw new ProviderInstallError(
        `failed to calculate checksum for ${options.provider.type} ${
          versionString(options.version)
        } package at ${absSource}: ${(cause as Error).message}`,
        { cause },
      );
    }
    if (!ok) {
      throw new PackageHashMismatchError(
        options.provider,
        versionString(options.version),
        allowed,
        "local package",
      );
    }
  }
  await Deno.mkdir(dirname(absTarget), { recursive: true, mode: 0o755 });
  const mode = options.linkMode ?? "auto";
  const tmp = _tempSibling(absTarget, "tmp");
  if (mode !== "copy") {
    try {
      await Deno.symlink(absSource, tmp, { type: "dir" });
      await _place(tmp, absTarget);
      return;
    } catch (err) {
      await removeAny(tmp);
      if (mode === "symlink") {
        throw new ProviderInstallError(
          `failed to symlink ${absSource} to ${absTarget}: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
  }
  try {
    await Deno.mkdir(tmp, { mode: 0o755 });
    await copyPackageTree(absSource, tmp);
    await _place(tmp, absTarget);
  } catch (cause) {
    await removeAny(tmp);
    throw new ProviderInstallError(
      `failed to either symlink or copy ${absSource} to ${absTarget}: ${(cause as Error).message}`,
      { cause },
    );
  }
}

async function _sameFile(a: string, b: string): Promise<boolean> {
  if (a === b) return true;
  try {
    const [sa, sb] = await Promise.all([Deno.lstat(a), Deno.lstat(b)]);
    return sa.dev === sb.dev && sa.ino !== null && sa.ino === sb.ino;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw new ProviderInstallError(
      `failed to determine if ${a} and ${b} are the same: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * Deep-copies a package (terraform's copy fallback): the source root's symlinks are resolved,
 * names starting with `.` are skipped, inner symlinks are recreated with the same link text, and
 * regular files keep their mode bits.
 *
 * @param source The package directory.
 * @param dest An existing empty directory.
 */
export async function copyPackageTree(source: string, dest: string): Promise<void> {
  const root = await Deno.realPath(source);
  await _copyDir(root, dest);
}

async function _copyDir(src: string, dst: string): Promise<void> {
  for await (const e of Deno.readDir(src)) {
    if (e.name.startsWith(".")) continue;
    const from = join(src, e.name);
    const to = join(dst, e.name);
    if (e.isSymlink) {
      const text = await Deno.readLink(from);
      const isDir = await Deno.stat(from).then((s) => s.isDirectory, () => false);
      await Deno.symlink(text, to, isAbsolute(text) || !isDir ? undefined : { type: "dir" });
    } else if (e.isDirectory) {
      await Deno.mkdir(to, { mode: 0o755 });
      await _copyDir(from, to);
    } else {
      await Deno.copyFile(from, to);
      const info = await Deno.stat(from);
      if (info.mode !== null && Deno.build.os !== "windows") {
        await Deno.chmod(to, info.mode & 0o7777);
      }
    }
  }
}

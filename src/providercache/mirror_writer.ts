/**
 * Writes a provider mirror the way `terraform providers mirror TARGET -platform=…` does: packed
 * archives at `TARGET/HOST/NS/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip`, plus, per
 * provider, `index.json` (`{"versions":{"1.0.0":{}}}`) and `VERSION.json`
 * (`{"archives":{"linux_amd64":{"hashes":["h1:…"],"url":"terraform-provider-…zip"}}}`) so the
 * directory works both as a filesystem mirror and, served over HTTP, as a network mirror.
 *
 * Like terraform, the indexes are rebuilt from a scan of the directory, so packages already
 * present are kept (merged) and each archive is listed with its `h1:` (computed from the zip);
 * the JSON is Go's `MarshalIndent(…, "", "  ")` (sorted keys, no trailing newline). Unlike
 * terraform, archives are authenticated before they are placed and every file is replaced
 * atomically (staging file + rename), so a live mirror never serves a partial file.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { HASH_SCHEME_ZIP, packageHashV1FromZip, zipHash } from "../registry/hashes.ts";
import type { FetchLike } from "../registry/fetch_like.ts";
import { type Platform, platformString } from "../registry/platform.ts";
import { hostnameForDisplay, type ProviderAddress } from "../registry/provider_address.ts";
import { compareVersions, type Version, versionString } from "../registry/version.ts";
import { ArchiveChecksumError, ProviderInstallError } from "./errors.ts";
import { downloadToFile, removeAny } from "./package_install.ts";
import { locationString, type PackageAuthentication, packageFilename } from "./package_meta.ts";
import { searchLocalDirectory } from "./search_local_directory.ts";
import type { ProviderSource } from "./sources/source.ts";

/** Options for {@linkcode MirrorWriter.addFromSource}. */
export interface MirrorAddOptions {
  /** Aborts the download. */
  signal?: AbortSignal | undefined;
  /** Fetch for locations that carry none. */
  fetch?: FetchLike | undefined;
}

/** Builds or updates a provider mirror directory. */
export class MirrorWriter {
  readonly #root: string;

  /**
   * @param targetDir The mirror directory (created when missing).
   */
  constructor(targetDir: string) {
    this.#root = targetDir;
  }

  /** The mirror directory. */
  get targetDir(): string {
    return this.#root;
  }

  /**
   * @param provider The provider.
   * @param version The version.
   * @param platform The platform.
   * @returns `TARGET/HOST/NS/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip`.
   */
  packedPath(provider: ProviderAddress, version: Version, platform: Platform): string {
    return join(
      this.#root,
      hostnameForDisplay(provider.hostname),
      provider.namespace,
      provider.type,
      packageFilename(provider.type, version, platform),
    );
  }

  /**
   * Copies a local zip into the mirror (staging file, then rename).
   *
   * @param provider The provider.
   * @param version The version.
   * @param platform The platform.
   * @param zipPath The zip.
   * @param options `authentication` to check it against before placing it.
   * @returns The mirror path.
   */
  async addArchive(
    provider: ProviderAddress,
    version: Version,
    platform: Platform,
    zipPath: string,
    options: { authentication?: PackageAuthentication | undefined } = {},
  ): Promise<string> {
    const target = this.packedPath(provider, version, platform);
    const staging = join(dirname(target), `.${basename(target)}`);
    await Deno.mkdir(dirname(target), { recursive: true });
    try {
      await Deno.copyFile(zipPath, staging);
      await _authenticate(staging, zipPath, options.authentication);
      await Deno.rename(staging, target);
    } finally {
      await removeAny(staging);
    }
    return target;
  }

  /**
   * Downloads one package from a source into the mirror, authenticating it first (a registry's
   * signed `shasum`, or a mirror's reported hashes).
   *
   * @param source The source.
   * @param provider The provider.
   * @param version The version.
   * @param platform The platform.
   * @param options Signal, fetch.
   * @returns The mirror path and the authentication label (`unauthenticated` when none).
   */
  async addFromSource(
    source: ProviderSource,
    provider: ProviderAddress,
    version: Version,
    platform: Platform,
    options: MirrorAddOptions = {},
  ): Promise<{ path: string; authentication: string }> {
    const meta = await source.packageMeta(provider, version, platform, { signal: options.signal });
    const target = this.packedPath(provider, version, platform);
    const staging = join(dirname(target), `.${basename(target)}`);
    await Deno.mkdir(dirname(target), { recursive: true });
    try {
      const loc = meta.location;
      if (loc.kind === "http") {
        await downloadToFile(loc.url, staging, {
          fetch: loc.fetch ?? options.fetch,
          signal: options.signal,
        });
      } else if (loc.kind === "archive") {
        await Deno.copyFile(loc.path, staging);
      } else {
        throw new ProviderInstallError(
          `cannot mirror ${loc.path}: only packed (.zip) packages can be placed in a mirror`,
        );
      }
      await _authenticate(staging, locationString(loc), meta.authentication);
      await Deno.rename(staging, target);
    } finally {
      await removeAny(staging);
    }
    const auth = meta.authentication;
    return {
      path: target,
      authentication: auth === undefined
        ? "unauthenticated"
        : auth.kind === "signed-checksums"
        ? auth.signature.label
        : "verified checksum",
    };
  }

  /**
   * Rebuilds `index.json` and `VERSION.json` of every provider in the mirror from a scan of the
   * directory (packages already there are included).
   *
   * @returns The index files written.
   */
  async writeIndexes(): Promise<string[]> {
    const found = await searchLocalDirectory(this.#root);
    const written: string[] = [];
    for (const list of found.values()) {
      if (list.length === 0) continue;
      const first = list[0]!;
      const dir = dirname(this.packedPath(first.provider, first.version, first.targetPlatform));
      const versions = new Map<string, Version>();
      const archives = new Map<string, Map<string, { hashes: string[]; url: string }>>();
      for (const p of list) {
        if (p.location.kind !== "archive") continue;
        const h1 = await packageHashV1FromZip(p.location.path);
        const v = versionString(p.version);
        versions.set(v, p.version);
        let perVersion = archives.get(v);
        if (perVersion === undefined) archives.set(v, perVersion = new Map());
        perVersion.set(platformString(p.targetPlatform), {
          hashes: [h1],
          url: basename(p.location.path),
        });
      }
      const index = {
        versions: Object.fromEntries(_sortedKeys([...versions.keys()]).map((v) => [v, {}])),
      };
      written.push(await _writeJson(join(dir, "index.json"), index));
      for (const v of [...versions.values()].sort(compareVersions)) {
        const key = versionString(v);
        const perVersion = archives.get(key)!;
        const doc = {
          archives: Object.fromEntries(
            _sortedKeys([...perVersion.keys()]).map((plat) => {
              const a = perVersion.get(plat)!;
              return [plat, { hashes: a.hashes, url: a.url }];
            }),
          ),
        };
        written.push(await _writeJson(join(dir, `${key}.json`), doc));
      }
    }
    return written;
  }
}

async function _authenticate(
  staging: string,
  from: string,
  auth: PackageAuthentication | undefined,
): Promise<void> {
  if (auth === undefined) return;
  const zh = await zipHash(staging);
  if (auth.kind === "signed-checksums") {
    const want = HASH_SCHEME_ZIP + auth.archiveSha256.toLowerCase();
    if (zh !== want) throw new ArchiveChecksumError(from, want, zh);
    return;
  }
  if (auth.hashes.includes(zh)) return;
  if (auth.hashes.some((h) => h.startsWith("h1:"))) {
    const h1 = await packageHashV1FromZip(staging);
    if (auth.hashes.includes(h1)) return;
  }
  throw new ProviderInstallError(
    auth.hashes.length === 1
      ? `provider package doesn't match the expected checksum "${auth.hashes[0]}"`
      : "provider package doesn't match any of the expected checksums",
  );
}

function _sortedKeys(keys: string[]): string[] {
  return [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Go's `json.MarshalIndent(v, "", "  ")`: HTML-escaped, no trailing newline. */
export function goJsonIndent(value: unknown): string {
  return JSON.stringify(value, null, 2)
    .replaceAll("<", "\\u003c")
    .replaceAll(">", "\\u003e")
    .replaceAll("&", "\\u0026")
    .replaceAll("\u2028", "\\u2028")
    .replaceAll("\u2029", "\\u2029");
}

async function _writeJson(path: string, value: unknown): Promise<string> {
  const tmp = join(dirname(path), `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}`);
  try {
    await Deno.writeTextFile(tmp, goJsonIndent(value), { mode: 0o644 });
    await Deno.rename(tmp, path);
  } finally {
    await removeAny(tmp);
  }
  return path;
}

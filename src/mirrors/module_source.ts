/**
 * Fetches what a module source points at (git or an HTTP archive) and packs it as a
 * deterministic tar.gz, so the same source always yields the same bytes and SHA-256.
 *
 * Git trees are packed without `.git`: Terraform's installer leaves go-getter's clone (with
 * `.git`) in `.terraform/modules`, but nothing reads it afterwards, and its contents (index
 * timestamps, pack layout) would make the artifact non-deterministic.
 *
 * @module
 */

import { join } from "node:path";
import type { ProducedArtifact, UpstreamFetch } from "../proxy/route.ts";
import { fetchArchive } from "./archive_fetch.ts";
import { fetchGit } from "./git_fetch.ts";
import {
  type ClassifyOptions,
  classifySource,
  normalizeSource,
  type SourceSpec,
} from "./module_source_address.ts";
import { ModuleSourceError } from "./module_source_errors.ts";
import type { TreeLimits } from "./safe_extract.ts";
import { packDirectory } from "./tarball.ts";

export { splitSubdir } from "./module_source_address.ts";

/** Options for {@linkcode packModuleSource}. */
export interface ModuleSourceOptions extends ClassifyOptions {
  /** Propagated upstream fetch for HTTP archives. */
  fetch: UpstreamFetch;
  /** Aborts the fetch (git children are killed). */
  signal?: AbortSignal;
  /** Bounds on the unpacked/packed tree. */
  limits?: TreeLimits;
  /** Largest accepted archive download in bytes. */
  maxDownloadBytes?: number;
  /** The git executable (default `git` on PATH). */
  git?: string;
  /** Directory for temporary work (default: the OS temp dir). */
  tempDir?: string;
}

/** A packed source on disk; `dispose` removes it. */
export interface PackedSource extends AsyncDisposable {
  /** Path of the deterministic tar.gz. */
  path: string;
  /** What was fetched. */
  spec: SourceSpec;
  /** Removes the tarball and its temporary directory (idempotent). */
  dispose(): Promise<void>;
}

/**
 * Fetches and packs one source base (subdir already removed). Work happens in a fresh temporary
 * directory that is removed on any failure, so a failed fetch leaves nothing behind.
 *
 * @param base A source base (raw or canonical), e.g. `git::https://host/repo.git?ref=v1`.
 * @param options Fetch, limits, cancellation.
 * @returns The packed tarball; call `dispose` when done.
 * @throws {ModuleSourceError} for sources the cache does not fetch.
 * @throws {ModuleFetchError|UpstreamStatusError|UnsafeArchiveError} when fetching or packing fails.
 */
export async function packModuleSource(
  base: string,
  options: ModuleSourceOptions,
): Promise<PackedSource> {
  const normalized = normalizeSource(base);
  if (normalized.subdir !== "") {
    throw new ModuleSourceError(base, "pass the source base, without a //subdir");
  }
  const spec = classifySource(normalized, options);
  if (spec.type === "unsupported") throw new ModuleSourceError(base, spec.reason);
  const work = await Deno.makeTempDir({
    prefix: "tfcache-modsrc-",
    ...(options.tempDir === undefined ? {} : { dir: options.tempDir }),
  });
  const dispose = () => Deno.remove(work, { recursive: true }).catch(() => {});
  try {
    const tree = join(work, "tree");
    await Deno.mkdir(tree);
    const limits = options.limits === undefined ? {} : { limits: options.limits };
    if (spec.type === "git") {
      await fetchGit(spec, tree, {
        ...(options.git === undefined ? {} : { git: options.git }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } else {
      await fetchArchive(spec, tree, {
        fetch: options.fetch,
        ...limits,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.maxDownloadBytes === undefined
          ? {}
          : { maxDownloadBytes: options.maxDownloadBytes }),
      });
    }
    const path = join(work, "source.tar.gz");
    await packDirectory(tree, path, {
      ...limits,
      ...(spec.type === "git" ? { exclude: (_rel: string, name: string) => name === ".git" } : {}),
    });
    await Deno.remove(tree, { recursive: true });
    return { path, spec, dispose, [Symbol.asyncDispose]: dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/**
 * Fetches and packs a source base as a {@linkcode ProducedArtifact} for a `produceArtifact`
 * hook. The tarball is complete before the stream is returned (so errors surface as a failed
 * fill, never as a truncated artifact), and its temporary directory is removed once the stream
 * ends or is cancelled.
 *
 * @param base A source base without subdir.
 * @param options Fetch, limits, cancellation.
 * @returns The artifact stream (`application/gzip`).
 */
export async function produceModuleSource(
  base: string,
  options: ModuleSourceOptions,
): Promise<ProducedArtifact> {
  const packed = await packModuleSource(base, options);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(packed.path);
  } catch (e) {
    await packed.dispose();
    throw e;
  }
  const reader = file.readable.getReader();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) {
          controller.close();
          await packed.dispose();
        } else {
          controller.enqueue(value);
        }
      } catch (e) {
        controller.error(e);
        await packed.dispose();
      }
    },
    async cancel(reason) {
      await reader.cancel(reason).catch(() => {});
      await packed.dispose();
    },
  });
  return { stream, contentType: "application/gzip" };
}

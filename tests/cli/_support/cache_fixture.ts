/**
 * A real cache directory for the `tfcache cache` tests: objects committed through `FileStore`
 * with controlled fetch times, a git mirror clone, an unpacked provider and a TLS file.
 *
 * @module
 */

import { join } from "node:path";
import { FileStore } from "../../../src/proxy/file_store.ts";
import type { ObjectInfo, RouteKind } from "../../../src/proxy/route.ts";
import type { CacheCommandIo } from "../../../src/cli/cache.ts";

/** The tests' "now". */
export const NOW: number = Date.parse("2026-06-10T12:00:00Z");
/** One hour and one day, in milliseconds. */
export const HOUR = 60 * 60 * 1000;
/** One day, in milliseconds. */
export const DAY: number = 24 * HOUR;

/** Provider keys used by the fixture. */
export const P = "providers/registry.terraform.io/hashicorp/aws";
/** The old provider zip (30 days, 3000 bytes). */
export const OLD_ZIP = `${P}/terraform-provider-aws_5.0.0_linux_amd64.zip`;
/** The newer provider zip (2 days, 2000 bytes). */
export const NEW_ZIP = `${P}/terraform-provider-aws_5.1.0_linux_amd64.zip`;
/** The module source tarball (20 days, 1000 bytes). */
export const SOURCE = `modules/_source/${"ab".repeat(32)}.tar.gz`;
/** The git mirror state key of the fixture's clone. */
export const GIT_STATE = "git/github.com/org/repo.json";

/** One object of the fixture. */
export interface FixtureObject {
  /** Cache key. */
  key: string;
  /** Kind recorded in the sidecar. */
  kind: RouteKind;
  /** Size in bytes. */
  size: number;
  /** Age at {@linkcode NOW}. */
  ageMs: number;
}

/** Every object of the fixture: 6 metadata objects and 3 artifacts, 6750 bytes in all. */
export const OBJECTS: readonly FixtureObject[] = [
  { key: `${P}/index.json`, kind: "metadata", size: 100, ageMs: 10 * DAY },
  { key: `${P}/5.1.0.json`, kind: "metadata", size: 200, ageMs: 1 * DAY },
  { key: OLD_ZIP, kind: "artifact", size: 3000, ageMs: 30 * DAY },
  { key: NEW_ZIP, kind: "artifact", size: 2000, ageMs: 2 * DAY },
  {
    key: "registry/registry.terraform.io/hashicorp/aws/versions.json",
    kind: "metadata",
    size: 300,
    ageMs: 8 * DAY,
  },
  {
    key: "modules/registry.terraform.io/org/net/aws/versions",
    kind: "metadata",
    size: 50,
    ageMs: HOUR,
  },
  { key: SOURCE, kind: "artifact", size: 1000, ageMs: 20 * DAY },
  { key: "discovery/registry.terraform.io.json", kind: "metadata", size: 40, ageMs: 3 * DAY },
  { key: GIT_STATE, kind: "metadata", size: 60, ageMs: 10 * DAY },
];

/** Deterministic bytes of a given size for a key. */
export function bytesFor(key: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let seed = [...key].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  for (let i = 0; i < size; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    out[i] = seed >>> 24;
  }
  return out;
}

/**
 * Commits one object with a controlled fetch time.
 *
 * @param root The cache directory.
 * @param object Key, kind, size and age.
 * @returns The committed metadata.
 */
export async function commitObject(root: string, object: FixtureObject): Promise<ObjectInfo> {
  const store = new FileStore(root, { now: () => NOW - object.ageMs });
  return await store.commit(
    object.key,
    ReadableStream.from([bytesFor(object.key, object.size)]),
    {
      kind: object.kind,
      contentType: object.kind === "artifact" ? "application/zip" : "application/json",
    },
  );
}

async function writeFile(path: string, text: string, mtimeMs?: number): Promise<void> {
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeTextFile(path, text);
  if (mtimeMs !== undefined) await Deno.utime(path, mtimeMs / 1000, mtimeMs / 1000);
}

/** A temporary cache directory with the fixture; removed on dispose. */
export interface Fixture extends AsyncDisposable {
  /** The cache directory. */
  root: string;
  /** Bytes of the git clone's files. */
  cloneBytes: number;
  /** Bytes of the unpacked provider's files. */
  unpackedBytes: number;
}

/**
 * Builds the fixture: {@linkcode OBJECTS}, a git mirror clone last fetched 10 days ago, one
 * unpacked provider package (with its lock directory) and a TLS certificate without sidecar.
 *
 * @returns The fixture; `await using` removes it.
 */
export async function makeFixture(): Promise<Fixture> {
  const root = await Deno.makeTempDir({ prefix: "tfcache-cache-cmd-" });
  for (const object of OBJECTS) await commitObject(root, object);
  const clone = join(root, "git-mirrors", "github.com", "org", "repo.git");
  const fetched = NOW - 10 * DAY;
  await writeFile(join(clone, "HEAD"), "ref: refs/heads/main\n", fetched);
  await writeFile(join(clone, "objects", "pack", "pack-1.pack"), "x".repeat(900), fetched);
  await writeFile(join(clone, "FETCH_HEAD"), "0123\n", fetched);
  const cloneBytes = 21 + 900 + 5;
  const pkg = join(root, "unpacked", "registry.terraform.io", "hashicorp", "aws", "5.1.0");
  await writeFile(join(pkg, "linux_amd64", "terraform-provider-aws_v5.1.0"), "b".repeat(500));
  await writeFile(join(root, "unpacked", ".locks", "registry.terraform.io", "x.lock"), "");
  await writeFile(join(root, "tls", "proxy.pem"), "-----BEGIN CERTIFICATE-----\n");
  return {
    root,
    cloneBytes,
    unpackedBytes: 500,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

/** Captured output of one `runCache` call. */
export interface Captured {
  /** The io to pass. */
  io: CacheCommandIo;
  /** Lines written to stdout. */
  out: string[];
  /** Lines written to stderr. */
  err: string[];
}

/**
 * An io that records output and runs at {@linkcode NOW}.
 *
 * @returns The io and the recorded lines.
 */
export function capture(): Captured {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: (line) => out.push(line),
      stderr: (line) => err.push(line),
      env: () => undefined,
      now: () => NOW,
    },
  };
}

/**
 * Keys of the objects currently in the cache.
 *
 * @param root The cache directory.
 * @returns Keys in key order.
 */
export async function keysIn(root: string): Promise<string[]> {
  const keys: string[] = [];
  const store = new FileStore(root);
  for (const top of ["providers", "registry", "modules", "discovery", "git"]) {
    for await (const info of store.list(`${top}/`)) keys.push(info.key);
  }
  return keys.sort();
}

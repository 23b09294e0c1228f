/**
 * `tfcache cache <stats|list|prune|delete|verify>`: inspect and maintain a cache directory, also
 * while other tfcache processes use it (removals take each object's store lock).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { FileStore } from "../proxy/file_store.ts";
import { resolveCacheDir } from "./cache_dir.ts";
import { executeDelete, planDelete } from "./cache_delete.ts";
import { type CacheContext, checkKeyArgument, groupOf, listObjects } from "./cache_inventory.ts";
import { DEFAULT_PRUNE_AGE_MS, pruneCache, type PrunedEntry } from "./cache_prune.ts";
import { collectStats, formatStats, statsToJson } from "./cache_stats.ts";
import { formatDuration, formatSize, formatTime, parseDuration, parseSize } from "./cache_units.ts";
import { verifyCache } from "./cache_verify.ts";
import { UsageError } from "./cli_error.ts";
import type { Command } from "./command.ts";

const HELP = `tfcache cache — inspect and maintain the cache directory

Usage:
  tfcache cache stats [--json]
  tfcache cache list [PREFIX] [--json]
  tfcache cache prune [--older-than DURATION] [--include-artifacts] [--max-size SIZE] [--dry-run]
  tfcache cache delete KEY|PREFIX... [--yes]
  tfcache cache verify [PREFIX] [--fix]

Keys are paths relative to the cache directory, as "list" prints them, e.g.
providers/registry.terraform.io/hashicorp/aws/index.json. Metadata (index and version lists,
registry answers) is refetched when needed; artifacts (provider zips, SHA256SUMS, module source
tarballs) never change once stored.

stats     Objects and bytes per group (providers, registry metadata, modules, module sources,
          ...), git mirror clones, unpacked providers, and the oldest and newest fetch.
list      One line per object: kind, size, fetch time (UTC), key. PREFIX limits the listing to
          keys starting with it.
prune     Removes metadata fetched longer ago than DURATION; with --include-artifacts also old
          artifacts and git mirror clones not fetched for DURATION. --max-size then evicts the
          least recently fetched artifacts until all objects fit in SIZE. Always removes
          staging leftovers of crashed writers. Waits for fills in progress: an object being
          refreshed at that moment is kept.
delete    Removes the named objects. An argument naming a directory deletes every object below
          it and needs --yes. Deleting a git/... state object also removes its mirror clone.
verify    Re-hashes objects (under PREFIX) and reports those whose bytes no longer match their
          recorded SHA-256; --fix deletes them so that they are fetched again.

Options:
  --cache-dir DIR          Cache directory (default: $TFCACHE_CACHE_DIR, else
                           $XDG_CACHE_HOME/tfcache, else ~/.cache/tfcache)
  --json                   stats, list: machine-readable output
  --older-than DURATION    prune: age limit, e.g. 90m, 12h, 7d, 2w (default 7d)
  --include-artifacts      prune: also remove old artifacts and git mirror clones
  --max-size SIZE          prune: size budget for the objects, e.g. 500MB, 10GB, 2GiB
  --dry-run                prune: print what would be removed, remove nothing
  -y, --yes                delete: allow deleting whole prefixes
  --fix                    verify: delete the damaged objects
  -h, --help               Show this help

The unpacked provider cache (unpacked/) is never pruned: configurations link to it.

Exit status: 0 on success; 1 on an error, when delete names something not in the cache, or when
verify finds damaged objects (also with --fix); 2 for a usage error.
`;

/** Output and environment of `tfcache cache` (injectable for tests). */
export interface CacheCommandIo {
  /** Writes one line of results. */
  stdout(line: string): void;
  /** Writes one line of notes and summaries. */
  stderr(line: string): void;
  /** Environment lookup, for the cache directory default. */
  env(name: string): string | undefined;
  /** Clock for `prune` (default `Date.now`). */
  now?: () => number;
}

/** The cache directory does not exist (or is not a directory). */
export class CacheDirectoryMissingError extends Error {
  /** The directory. */
  readonly root: string;

  /**
   * @param root The directory that does not exist.
   * @param notADirectory Whether something other than a directory is there.
   */
  constructor(root: string, notADirectory = false) {
    super(
      `Cannot open cache directory "${root}": ${
        notADirectory ? "it is not a directory" : "it does not exist"
      }; pass --cache-dir DIR or set TFCACHE_CACHE_DIR to the directory tfcache run/serve use`,
    );
    this.name = "CacheDirectoryMissingError";
    this.root = root;
  }
}

type Values = Record<string, string | boolean | undefined>;

const SUBCOMMANDS: Readonly<
  Record<string, {
    options: Record<string, { type: "string" | "boolean"; short?: string }>;
    positionals: [min: number, max: number];
    run: (
      context: CacheContext,
      values: Values,
      positionals: string[],
      io: CacheCommandIo,
    ) => Promise<number>;
  }>
> = {
  stats: { options: { json: { type: "boolean" } }, positionals: [0, 0], run: runStats },
  list: { options: { json: { type: "boolean" } }, positionals: [0, 1], run: runList },
  prune: {
    options: {
      "older-than": { type: "string" },
      "include-artifacts": { type: "boolean" },
      "max-size": { type: "string" },
      "dry-run": { type: "boolean" },
    },
    positionals: [0, 0],
    run: runPrune,
  },
  delete: {
    options: { yes: { type: "boolean", short: "y" } },
    positionals: [1, Infinity],
    run: runDelete,
  },
  verify: { options: { fix: { type: "boolean" } }, positionals: [0, 1], run: runVerify },
};

/** The `cache` command. */
export const cacheCommand: Command = {
  name: "cache",
  summary: "Inspect and maintain the cache directory (stats, list, prune, delete, verify)",
  help: HELP,
  run: (args) => runCache(args),
};

function consoleIo(): CacheCommandIo {
  return {
    stdout: (line) => console.log(line),
    stderr: (line) => console.error(line),
    env: (name) => Deno.env.get(name),
  };
}

/**
 * Runs `tfcache cache` with the arguments after `cache`.
 *
 * @param args Sub-command and its arguments, e.g. `["prune", "--dry-run"]`.
 * @param io Output, environment and clock.
 * @returns The exit code.
 * @throws {UsageError} For a wrong command line (exit code 2 in `main`).
 * @throws {CacheDirectoryMissingError} When the cache directory does not exist.
 */
export async function runCache(args: string[], io: CacheCommandIo = consoleIo()): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined) {
    throw new UsageError("missing sub-command: stats, list, prune, delete or verify", "cache");
  }
  const spec = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
  if (spec === undefined) {
    throw new UsageError(
      `unknown sub-command "${sub}" of cache; use stats, list, prune, delete or verify`,
      "cache",
    );
  }
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: true,
      options: { ...spec.options, "cache-dir": { type: "string" } },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), "cache");
  }
  const [min, max] = spec.positionals;
  if (positionals.length < min || positionals.length > max) {
    const extra = positionals[max];
    throw new UsageError(
      extra !== undefined
        ? `unexpected argument "${extra}" for cache ${sub}`
        : sub === "delete"
        ? "missing KEY or PREFIX to delete (see `tfcache cache list`)"
        : `missing argument for cache ${sub}`,
      "cache",
    );
  }
  const cacheDir = values["cache-dir"];
  const root = resolveCacheDir(typeof cacheDir === "string" ? cacheDir : undefined, io.env);
  let isDirectory: boolean;
  try {
    isDirectory = (await Deno.stat(root)).isDirectory;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new CacheDirectoryMissingError(root);
    throw error;
  }
  if (!isDirectory) throw new CacheDirectoryMissingError(root, true);
  const store = new FileStore(root, io.now !== undefined ? { now: io.now } : {});
  return await spec.run(
    { root, store, encodeColons: store.encodeColons },
    values,
    positionals,
    io,
  );
}

function prefixArgument(context: CacheContext, argument: string | undefined): string {
  if (argument === undefined || argument === "") return "";
  checkKeyArgument(argument, context.root, "cache");
  return argument;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

async function runStats(context: CacheContext, values: Values, _: string[], io: CacheCommandIo) {
  const stats = await collectStats(context);
  if (values.json === true) io.stdout(JSON.stringify(statsToJson(stats), null, 2));
  else for (const line of formatStats(stats)) io.stdout(line);
  return 0;
}

async function runList(
  context: CacheContext,
  values: Values,
  positionals: string[],
  io: CacheCommandIo,
) {
  const prefix = prefixArgument(context, positionals[0]);
  let count = 0;
  let bytes = 0;
  const json: Record<string, unknown>[] = [];
  for await (const info of listObjects(context, prefix)) {
    count++;
    bytes += info.size;
    if (values.json === true) {
      json.push({
        key: info.key,
        group: groupOf(info.key),
        kind: info.kind,
        size: info.size,
        sha256: info.sha256,
        content_type: info.contentType,
        fetched_at: info.fetchedAt.toISOString(),
      });
    } else {
      io.stdout(
        `${info.kind.padEnd(8)}  ${formatSize(info.size).padStart(8)}  ${
          formatTime(info.fetchedAt)
        }  ${info.key}`,
      );
    }
  }
  if (values.json === true) {
    io.stdout(JSON.stringify({ root: context.root, prefix, objects: json }, null, 2));
  } else {
    io.stderr(
      `${plural(count, "object")}, ${formatSize(bytes)}${prefix ? ` under "${prefix}"` : ""}`,
    );
  }
  return 0;
}

function describePruned(entry: PrunedEntry, dryRun: boolean): string {
  const verb = dryRun ? "would remove" : "removed";
  const why = entry.reason === "max-size"
    ? " (over --max-size)"
    : entry.reason === "staging-leftover"
    ? " (leftover of an interrupted clone)"
    : "";
  return `${verb}  ${entry.kind.padEnd(9)}  ${formatSize(entry.size).padStart(8)}  ${
    formatTime(entry.fetchedAt)
  }  ${entry.key}${why}`;
}

async function runPrune(context: CacheContext, values: Values, _: string[], io: CacheCommandIo) {
  const olderThanText = values["older-than"];
  let olderThanMs = DEFAULT_PRUNE_AGE_MS;
  if (typeof olderThanText === "string") {
    const parsed = parseDuration(olderThanText);
    if (parsed === undefined) {
      throw new UsageError(
        `--older-than must be a duration like 90m, 12h, 7d or 2w, got "${olderThanText}"`,
        "cache",
      );
    }
    olderThanMs = parsed;
  }
  const maxSizeText = values["max-size"];
  let maxSizeBytes: number | undefined;
  if (typeof maxSizeText === "string") {
    maxSizeBytes = parseSize(maxSizeText);
    if (maxSizeBytes === undefined) {
      throw new UsageError(
        `--max-size must be a size like 500MB, 10GB or 2GiB, got "${maxSizeText}"`,
        "cache",
      );
    }
  }
  const dryRun = values["dry-run"] === true;
  const result = await pruneCache(context, {
    olderThanMs,
    includeArtifacts: values["include-artifacts"] === true,
    maxSizeBytes,
    dryRun,
    ...(io.now !== undefined ? { now: io.now } : {}),
    onRemoved: (entry) => io.stdout(describePruned(entry, dryRun)),
  });
  for (const skipped of result.skipped) {
    io.stderr(
      `kept ${skipped.key}: ${
        skipped.reason === "changed" ? "refreshed while pruning" : "removed meanwhile"
      }`,
    );
  }
  const objects = result.removed.filter((e) => e.kind !== "git-clone").length;
  const clones = result.removed.length - objects;
  const parts = [
    `${dryRun ? "would remove" : "removed"} ${plural(objects, "object")}`,
    ...(clones > 0 ? [plural(clones, "git mirror clone")] : []),
  ];
  let summary = `${parts.join(" and ")} older than ${formatDuration(olderThanMs)}` +
    `${maxSizeBytes !== undefined ? ` or over ${formatSize(maxSizeBytes)}` : ""}, ` +
    `${dryRun ? "freeing" : "freed"} ${formatSize(result.bytesFreed)}`;
  if (!dryRun) summary += `; swept ${plural(result.sweptStaging, "staging leftover")}`;
  io.stdout(summary);
  if (result.fitsMaxSize === false) {
    io.stderr(
      `note: ${formatSize(result.remainingBytes)} of objects remain, over --max-size ` +
        `${formatSize(maxSizeBytes ?? 0)}: metadata is never evicted by size (use --older-than)`,
    );
  }
  return 0;
}

async function runDelete(
  context: CacheContext,
  values: Values,
  positionals: string[],
  io: CacheCommandIo,
) {
  const plan = await planDelete(context, positionals, values.yes === true);
  const deleted = await executeDelete(
    context,
    plan,
    (d) => io.stdout(`deleted  ${formatSize(d.bytes).padStart(8)}  ${d.key}`),
  );
  for (const missing of plan.missing) {
    io.stderr(`not in the cache: "${missing}" (see \`tfcache cache list\`)`);
  }
  const freed = deleted.reduce((sum, d) => sum + d.bytes, 0);
  io.stdout(`deleted ${plural(deleted.length, "object")}, freed ${formatSize(freed)}`);
  return plan.missing.length > 0 ? 1 : 0;
}

async function runVerify(
  context: CacheContext,
  values: Values,
  positionals: string[],
  io: CacheCommandIo,
) {
  const prefix = prefixArgument(context, positionals[0]);
  const fix = values.fix === true;
  const result = await verifyCache(context, {
    prefix,
    fix,
    onProblem: (p) =>
      io.stdout(`${p.problem}  ${p.key}: ${p.detail}${p.fixed ? " (deleted)" : ""}`),
  });
  const bad = result.problems.length;
  io.stdout(
    `verified ${plural(result.checked, "object")} (${formatSize(result.bytes)}): ` +
      (bad === 0
        ? "all intact"
        : `${bad} damaged${fix ? ", deleted" : "; run with --fix to delete"}`),
  );
  return bad === 0 ? 0 : 1;
}

/**
 * `tfcache cache stats`: counts and sizes of a cache directory, from the filesystem alone (no hit
 * rates: those live in the savings report of each run).
 *
 * @module
 */

import {
  type CacheContext,
  encodesNames,
  GROUP_LABELS,
  groupOf,
  listGitClones,
  listObjects,
  type ObjectGroup,
  summarizeUnpacked,
  treeSize,
} from "./cache_inventory.ts";
import { formatSize, formatTime } from "./cache_units.ts";

/** Object count, bytes and fetch times of one group of objects. */
export interface GroupStats {
  /** The group. */
  group: ObjectGroup;
  /** Objects. */
  count: number;
  /** Bytes. */
  bytes: number;
  /** Objects whose sidecar kind is `artifact`. */
  artifacts: number;
  /** Earliest `fetched_at`, when there are objects. */
  oldest: Date | undefined;
  /** Latest `fetched_at`, when there are objects. */
  newest: Date | undefined;
}

/** Everything `tfcache cache stats` reports. */
export interface CacheStats {
  /** The cache directory. */
  root: string;
  /** Totals over every store object. */
  total: GroupStats & { group: "other" };
  /** Per group, in {@linkcode GROUP_LABELS} order; empty groups left out. */
  groups: GroupStats[];
  /** Bare git mirror clones (not store objects: sizes are directory sizes). */
  gitMirrors: { clones: number; bytes: number };
  /** The unpacked provider cache of `tfcache providers install`. */
  unpacked: { packages: number; bytes: number };
}

function emptyGroup<G extends ObjectGroup>(group: G): GroupStats & { group: G } {
  return { group, count: 0, bytes: 0, artifacts: 0, oldest: undefined, newest: undefined };
}

function add(stats: GroupStats, size: number, fetchedAt: Date, artifact: boolean): void {
  stats.count++;
  stats.bytes += size;
  if (artifact) stats.artifacts++;
  if (stats.oldest === undefined || fetchedAt < stats.oldest) stats.oldest = fetchedAt;
  if (stats.newest === undefined || fetchedAt > stats.newest) stats.newest = fetchedAt;
}

/**
 * Walks the cache once and adds everything up.
 *
 * @param context Cache root and store.
 * @returns The statistics.
 */
export async function collectStats(context: CacheContext): Promise<CacheStats> {
  const total = emptyGroup("other");
  const byGroup = new Map<ObjectGroup, GroupStats>();
  for await (const info of listObjects(context)) {
    const group = groupOf(info.key);
    let stats = byGroup.get(group);
    if (stats === undefined) byGroup.set(group, stats = emptyGroup(group));
    const artifact = info.kind === "artifact";
    add(stats, info.size, info.fetchedAt, artifact);
    add(total, info.size, info.fetchedAt, artifact);
  }
  const gitMirrors = { clones: 0, bytes: 0 };
  for await (const clone of listGitClones(context.root, encodesNames(context))) {
    if (!clone.temporary) gitMirrors.clones++;
    gitMirrors.bytes += (await treeSize(clone.path)).bytes;
  }
  const order = Object.keys(GROUP_LABELS) as ObjectGroup[];
  return {
    root: context.root,
    total,
    groups: order.flatMap((g) => byGroup.get(g) ?? []),
    gitMirrors,
    unpacked: await summarizeUnpacked(context.root),
  };
}

function groupJson(stats: GroupStats): Record<string, unknown> {
  return {
    objects: stats.count,
    bytes: stats.bytes,
    artifacts: stats.artifacts,
    oldest_fetched_at: stats.oldest?.toISOString() ?? null,
    newest_fetched_at: stats.newest?.toISOString() ?? null,
  };
}

/**
 * The JSON form of the statistics (snake_case, sizes in bytes, times in ISO 8601).
 *
 * @param stats What {@linkcode collectStats} returned.
 * @returns A JSON-serialisable object.
 */
export function statsToJson(stats: CacheStats): Record<string, unknown> {
  return {
    root: stats.root,
    ...groupJson(stats.total),
    groups: Object.fromEntries(stats.groups.map((g) => [g.group, groupJson(g)])),
    git_mirrors: { clones: stats.gitMirrors.clones, bytes: stats.gitMirrors.bytes },
    unpacked_providers: { packages: stats.unpacked.packages, bytes: stats.unpacked.bytes },
  };
}

/**
 * The human form of the statistics.
 *
 * @param stats What {@linkcode collectStats} returned.
 * @returns Lines without trailing newlines.
 */
export function formatStats(stats: CacheStats): string[] {
  const rows: [string, string, string][] = [["", "objects", "size"]];
  rows.push(...stats.groups.map((
    g,
  ) => [GROUP_LABELS[g.group], `${g.count}`, formatSize(g.bytes)] as [string, string, string]));
  rows.push(["total", `${stats.total.count}`, formatSize(stats.total.bytes)]);
  rows.push([
    "git mirror clones",
    `${stats.gitMirrors.clones}`,
    formatSize(stats.gitMirrors.bytes),
  ]);
  rows.push([
    "unpacked providers",
    `${stats.unpacked.packages}`,
    formatSize(stats.unpacked.bytes),
  ]);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const w2 = Math.max(...rows.map((r) => r[2].length));
  const lines = [`cache directory: ${stats.root}`, ""];
  rows.forEach(([label, count, size], index) => {
    if (index === stats.groups.length + 1) lines.push(`  ${"".padEnd(w0 + w1 + w2 + 4, "-")}`);
    lines.push(`  ${label.padEnd(w0)}  ${count.padStart(w1)}  ${size.padStart(w2)}`);
    if (index === stats.groups.length + 1) lines.push("");
  });
  const { oldest, newest } = stats.total;
  lines.push("");
  lines.push(`oldest fetch: ${oldest === undefined ? "-" : formatTime(oldest)}`);
  lines.push(`newest fetch: ${newest === undefined ? "-" : formatTime(newest)}`);
  return lines;
}

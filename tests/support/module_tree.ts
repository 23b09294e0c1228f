/**
 * Snapshots of what `terraform init` installed under `.terraform/modules/`, for comparing an
 * install through tfcache with a direct one.
 *
 * @module
 */

import { join } from "node:path";

/** One installed module tree, as {@linkcode snapshotModules} records it. */
export interface ModuleTreeSnapshot {
  /**
   * Every file and symlink outside `.git` directories and the top-level `modules.json`:
   * relative path (`/`-separated) → `file 644 <sha256>`, `file 755 <sha256>` or `link <target>`.
   */
  files: Map<string, string>;
  /** Relative paths of the `.git` directories found (their contents are not compared). */
  gitDirs: string[];
  /** The parsed `modules.json` manifest: module key → `{Key, Source, Version, Dir}`. */
  manifest: Map<string, Record<string, unknown>>;
}

/**
 * Reads `<workDir>/.terraform/modules`: file contents (hashed) and executable bits, symlink
 * targets, where `.git` directories are, and the manifest.
 *
 * @param workDir The configuration directory terraform ran in.
 * @returns The snapshot.
 */
export async function snapshotModules(workDir: string): Promise<ModuleTreeSnapshot> {
  const root = join(workDir, ".terraform", "modules");
  const files = new Map<string, string>();
  const gitDirs: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = await Array.fromAsync(Deno.readDir(dir));
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      const relPath = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isSymlink) {
        files.set(relPath, `link ${await Deno.readLink(path)}`);
      } else if (entry.isDirectory) {
        if (entry.name === ".git") gitDirs.push(relPath);
        else await walk(path, relPath);
      } else if (relPath !== "modules.json") {
        const info = await Deno.stat(path);
        const mode = ((info.mode ?? 0) & 0o111) !== 0 ? "755" : "644";
        const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
        files.set(relPath, `file ${mode} ${new Uint8Array(digest).toHex()}`);
      }
    }
  };
  await walk(root, "");
  const parsed = JSON.parse(await Deno.readTextFile(join(root, "modules.json"))) as {
    Modules?: Record<string, unknown>[];
  };
  const manifest = new Map<string, Record<string, unknown>>();
  for (const module of parsed.Modules ?? []) manifest.set(String(module.Key), module);
  return { files, gitDirs: gitDirs.sort(), manifest };
}

/**
 * The differences between two file maps, one line each (`only in a: …`, `differs: …`); empty
 * when they are equal.
 *
 * @param a First snapshot's files.
 * @param b Second snapshot's files.
 * @returns Difference lines, sorted.
 */
export function diffFiles(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [path, value] of a) {
    const other = b.get(path);
    if (other === undefined) out.push(`only in first: ${path}`);
    else if (other !== value) out.push(`differs: ${path} (${value} vs ${other})`);
  }
  for (const path of b.keys()) if (!a.has(path)) out.push(`only in second: ${path}`);
  return out.sort();
}

/**
 * A temporary configuration tree for tests, removed at scope exit.
 *
 * @module
 */

import { dirname, join } from "node:path";

/** A temporary directory holding configuration files. */
export interface TempConfig extends AsyncDisposable {
  /** The directory's absolute path. */
  readonly dir: string;
}

/**
 * Create a temporary directory and write `files` (relative path → content) into it.
 *
 * @param files Relative paths and contents; parent directories are created.
 * @returns The directory, removed recursively on `await using` scope exit.
 */
export async function tempConfig(files: Record<string, string>): Promise<TempConfig> {
  const dir = await Deno.makeTempDir({ prefix: "tfcache-config-" });
  for (const [rel, content] of Object.entries(files)) {
    const path = join(dir, rel);
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeTextFile(path, content);
  }
  return {
    dir,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * Write `.terraform.lock.hcl` exactly as Terraform (or OpenTofu) does: the two-line
 * header, one blank line before each provider block, providers sorted by address,
 * hclwrite's `=` alignment, and one quoted hash per line with a trailing comma.
 *
 * @module
 */

import { providerAddressString } from "../registry/provider_address.ts";
import { versionString } from "../registry/version.ts";
import type { LockFile } from "./lock_file.ts";

/** Options for {@link formatLockFile}. */
export interface LockFileWriteOptions {
  /**
   * Tool named in the header line (`# This file is maintained automatically by "<tool> init".`).
   * Defaults to `terraform`; OpenTofu writes `tofu`.
   */
  readonly tool?: string;
}

/**
 * Quote a string as hclwrite does: escape `\n \r \t " \`, double `${`/`%{`, escape
 * non-printable characters as `\uXXXX`/`\UXXXXXXXX`, write other Unicode literally.
 *
 * @param s The string.
 * @returns The quoted HCL string literal.
 */
export function quoteHclString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length;) {
    const cp = s.codePointAt(i) as number;
    const ch = String.fromCodePoint(cp);
    i += ch.length;
    switch (ch) {
      case "\n":
        out += "\\n";
        continue;
      case "\r":
        out += "\\r";
        continue;
      case "\t":
        out += "\\t";
        continue;
      case '"':
        out += '\\"';
        continue;
      case "\\":
        out += "\\\\";
        continue;
      case "$":
      case "%":
        out += s[i] === "{" ? ch + ch : ch;
        continue;
    }
    if (/^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]$/u.test(ch)) {
      out += ch;
    } else if (cp <= 0xffff) {
      out += `\\u${cp.toString(16).padStart(4, "0")}`;
    } else {
      out += `\\U${cp.toString(16).padStart(8, "0")}`;
    }
  }
  return out + '"';
}

/**
 * The header Terraform writes for `tool`.
 *
 * @param tool e.g. `terraform` or `tofu`.
 * @returns Two comment lines, each ending in `\n`.
 */
export function lockFileHeader(tool = "terraform"): string {
  return `# This file is maintained automatically by "${tool} init".\n` +
    "# Manual edits may be lost in future updates.\n";
}

/**
 * Render a lock file byte-for-byte as Terraform writes it.
 *
 * @param lock The lock file.
 * @param options Header tool name.
 * @returns The file contents.
 * @example
 * ```ts
 * import { LockFile } from "./lock_file.ts";
 * const text = formatLockFile(new LockFile(), { tool: "tofu" });
 * if (!text.startsWith('# This file is maintained automatically by "tofu init".')) throw new Error();
 * ```
 */
export function formatLockFile(lock: LockFile, options: LockFileWriteOptions = {}): string {
  let out = lockFileHeader(options.tool);
  for (const p of lock.allProviders()) {
    out += `\nprovider ${quoteHclString(providerAddressString(p.address))} {\n`;
    const version = quoteHclString(versionString(p.version));
    if (p.constraints !== undefined && p.constraints !== "") {
      out += `  version     = ${version}\n`;
      out += `  constraints = ${quoteHclString(p.constraints)}\n`;
    } else {
      out += `  version = ${version}\n`;
    }
    if (p.hashes.length > 0) {
      out += "  hashes = [\n";
      for (const h of p.hashes) out += `    ${quoteHclString(h)},\n`;
      out += "  ]\n";
    }
    out += "}\n";
  }
  return out;
}

/**
 * Write a lock file atomically: a temporary file in the same directory, mode 0644,
 * then a rename over `path`. Needs `--allow-read` and `--allow-write` for the directory.
 *
 * @param path Destination, usually `<root module>/.terraform.lock.hcl`.
 * @param lock The lock file.
 * @param options Header tool name.
 * @throws {Error} `Failed to update dependency lock file` with the cause attached.
 */
export async function saveLockFile(
  path: string,
  lock: LockFile,
  options: LockFileWriteOptions = {},
): Promise<void> {
  const text = formatLockFile(lock, options);
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  const tmp = `${dir}.terraform.lock.hcl.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(tmp, text, { mode: 0o644 });
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, 0o644);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(
      `Failed to update dependency lock file: Error while writing new dependency lock information to ${path}: ${
        (e as Error).message
      }.`,
      { cause: e },
    );
  }
}

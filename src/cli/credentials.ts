/**
 * Registry credentials, found where terraform finds them, in terraform's order of precedence:
 * `TF_TOKEN_<host>` / `TOFU_TOKEN_<host>` environment variables, then `credentials` blocks of the
 * main CLI config, then `credentials.tfrc.json` and other `*.tfrc` / `*.tfrc.json` files in the
 * per-user terraform folder (`~/.terraform.d`).
 *
 * Credentials helpers (`credentials_helper`) are not run by tfcache; hosts that need one should
 * have a `TF_TOKEN_<host>` variable set for `tfcache run`.
 *
 * @module
 */

import { join } from "node:path";
import { type CredentialsLookup, tokenFromEnv } from "../proxy/upstream.ts";
import { type EnvLookup } from "./cache_dir.ts";
import { parseUserCliConfig, terraformConfigDir, type UserCliConfig } from "./cli_config.ts";

/**
 * Builds the credentials lookup for upstream requests.
 *
 * @param user The user's main CLI config (its `credentials` blocks).
 * @param env Environment variables.
 * @param configDir The per-user terraform folder; derived from `env` when omitted.
 * @returns A lookup from `hostname[:port]` to a bearer token.
 */
export async function loadCredentials(
  user: UserCliConfig,
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
  configDir: string | undefined = terraformConfigDir(toLookup(env)),
): Promise<CredentialsLookup> {
  const fromFiles = new Map<string, string>();
  if (configDir !== undefined) {
    for (const file of await listTfrcFiles(configDir)) {
      const path = join(configDir, file);
      let text: string;
      try {
        text = await Deno.readTextFile(path);
      } catch {
        continue; // Unreadable files are skipped, as terraform does with a warning.
      }
      const parsed = await parseUserCliConfig(path, text).catch(() => undefined);
      for (const [host, token] of parsed?.credentials ?? []) fromFiles.set(host, token);
    }
  }
  return (host: string) => {
    const normalised = host.toLowerCase();
    return tokenFromEnv(normalised, env) ?? user.credentials.get(normalised) ??
      fromFiles.get(normalised);
  };
}

async function listTfrcFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile) continue;
      if (entry.name.endsWith(".tfrc") || entry.name.endsWith(".tfrc.json")) names.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

function toLookup(env: Readonly<Record<string, string | undefined>>): EnvLookup {
  return (name) => env[name];
}

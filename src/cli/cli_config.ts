/**
 * The Terraform/OpenTofu CLI configuration: finding the user's file, reading what tfcache needs
 * from it (credentials, host blocks, whether provider installation is customised), and rendering
 * the temporary file `tfcache run` gives the child: the user's configuration kept verbatim plus
 * the blocks that route provider and module installation through the cache.
 *
 * @module
 */

import { parse as parseHcl } from "npm:@cdktf/hcl2json@0.21.0";
import { join } from "node:path";
import type { EnvLookup } from "./cache_dir.ts";

/** The user's CLI configuration as tfcache understands it. */
export interface UserCliConfig {
  /** Path of the main CLI config file, when one exists. */
  path: string | undefined;
  /** Its text, verbatim ("" when there is none). */
  text: string;
  /** Whether the text is JSON syntax rather than HCL. */
  isJson: boolean;
  /** Tokens from `credentials "<host>" { token = "…" }` blocks of the main file. */
  credentials: Map<string, string>;
  /** Services of `host "<name>" { services = {…} }` blocks. */
  hosts: Map<string, Record<string, string>>;
  /** Whether the file has a `provider_installation` block. */
  hasProviderInstallation: boolean;
  /** Whether the file sets `plugin_cache_dir` (terraform's own shared provider cache). */
  hasPluginCacheDir: boolean;
}

/** The CLI config file cannot be read or parsed. */
export class CliConfigError extends Error {
  /**
   * @param path The file.
   * @param message What is wrong with it.
   * @param options The error `cause`.
   */
  constructor(path: string, message: string, options: { cause?: unknown } = {}) {
    super(`Cannot read the CLI configuration "${path}": ${message}`, options);
    this.name = "CliConfigError";
  }
}

/**
 * Where terraform looks for the main CLI config: `TF_CLI_CONFIG_FILE`, then
 * `TOFU_CLI_CONFIG_FILE`, then `~/.terraformrc` (`%APPDATA%\terraform.rc` on Windows).
 *
 * @returns The path, and whether it was named explicitly by an environment variable.
 */
export function userCliConfigPath(
  env: EnvLookup,
  os: typeof Deno.build.os = Deno.build.os,
): { path: string | undefined; explicit: boolean } {
  for (const name of ["TF_CLI_CONFIG_FILE", "TOFU_CLI_CONFIG_FILE"]) {
    const value = env(name);
    if (value !== undefined && value !== "") return { path: value, explicit: true };
  }
  if (os === "windows") {
    const appData = env("APPDATA");
    return { path: appData ? join(appData, "terraform.rc") : undefined, explicit: false };
  }
  const home = env("HOME");
  return { path: home ? join(home, ".terraformrc") : undefined, explicit: false };
}

/** The folder of per-user terraform files (`~/.terraform.d`, `%APPDATA%\terraform.d`). */
export function terraformConfigDir(
  env: EnvLookup,
  os: typeof Deno.build.os = Deno.build.os,
): string | undefined {
  const base = os === "windows" ? env("APPDATA") : env("HOME");
  if (base === undefined || base === "") return undefined;
  return join(base, os === "windows" ? "terraform.d" : ".terraform.d");
}

/**
 * Reads the user's main CLI config file (a missing file is an empty configuration).
 *
 * @throws {CliConfigError} When the file exists but cannot be read or parsed.
 */
export async function loadUserCliConfig(
  env: EnvLookup = (name) => Deno.env.get(name),
): Promise<UserCliConfig> {
  const { path } = userCliConfigPath(env);
  const empty: UserCliConfig = {
    path: undefined,
    text: "",
    isJson: false,
    credentials: new Map(),
    hosts: new Map(),
    hasProviderInstallation: false,
    hasPluginCacheDir: false,
  };
  if (path === undefined) return empty;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return empty;
    throw new CliConfigError(path, "the file is not readable", { cause: error });
  }
  return parseUserCliConfig(path, text);
}

/**
 * Parses CLI config text (HCL or JSON syntax).
 *
 * @throws {CliConfigError} On a syntax error.
 */
export async function parseUserCliConfig(path: string, text: string): Promise<UserCliConfig> {
  const isJson = text.trimStart().startsWith("{");
  let doc: unknown;
  try {
    doc = isJson ? JSON.parse(text) : await parseHcl(path, text);
  } catch (error) {
    throw new CliConfigError(path, error instanceof Error ? error.message : String(error), {
      cause: error,
    });
  }
  const root = asRecord(doc) ?? {};
  const credentials = new Map<string, string>();
  for (const [host, body] of Object.entries(asRecord(root.credentials) ?? {})) {
    const token = firstBlock(body)?.token;
    if (typeof token === "string") credentials.set(host.toLowerCase(), token);
  }
  const hosts = new Map<string, Record<string, string>>();
  for (const [host, body] of Object.entries(asRecord(root.host) ?? {})) {
    const services = asRecord(firstBlock(body)?.services) ?? {};
    const strings: Record<string, string> = {};
    for (const [id, url] of Object.entries(services)) {
      if (typeof url === "string") strings[id] = url;
    }
    hosts.set(host.toLowerCase(), strings);
  }
  return {
    path,
    text,
    isJson,
    credentials,
    hosts,
    hasProviderInstallation: root.provider_installation !== undefined,
    hasPluginCacheDir: typeof root.plugin_cache_dir === "string" && root.plugin_cache_dir !== "",
  };
}

/** What the generated CLI config routes through the cache. */
export interface CliConfigPlan {
  /** Service overrides per registry hostname (`providers.v1`, `modules.v1`, and passed-through ones). */
  hostServices: Map<string, Record<string, string>>;
  /**
   * A network mirror for providers on hosts without a host block, with the hosts to exclude from
   * it (they go `direct`, through their host blocks). Only used when the user has no
   * `provider_installation` block of their own.
   */
  networkMirror?: { url: string; directHosts: string[] };
}

/**
 * Renders the temporary CLI config: the user's file verbatim, then tfcache's blocks. Hosts that
 * the user already overrides with a `host` block keep the user's block.
 *
 * @returns The file text and the hosts skipped because the user overrides them.
 */
export function renderCliConfig(
  user: UserCliConfig,
  plan: CliConfigPlan,
): { text: string; skippedHosts: string[] } {
  const skippedHosts: string[] = [];
  const hostEntries = [...plan.hostServices].filter(([host]) => {
    if (user.hosts.has(host.toLowerCase())) {
      skippedHosts.push(host);
      return false;
    }
    return true;
  }).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  const mirror = user.hasProviderInstallation ? undefined : plan.networkMirror;
  if (user.isJson) {
    const doc = asRecord(JSON.parse(user.text)) ?? {};
    const hostsDoc = { ...(asRecord(doc.host) ?? {}) };
    for (const [host, services] of hostEntries) hostsDoc[host] = { services };
    doc.host = hostsDoc;
    if (mirror !== undefined) doc.provider_installation = providerInstallationJson(mirror);
    return { text: JSON.stringify(doc, null, 2) + "\n", skippedHosts };
  }
  const parts: string[] = [];
  if (user.text.trim() !== "") {
    parts.push(`# --- from ${user.path ?? "the user's CLI configuration"} ---`);
    parts.push(user.text.endsWith("\n") ? user.text.slice(0, -1) : user.text);
  }
  parts.push("# --- added by tfcache run: routes installation through the local cache ---");
  for (const [host, services] of hostEntries) {
    parts.push(`host ${hclString(host)} {`);
    parts.push("  services = {");
    for (const [id, url] of Object.entries(services).sort(([a], [b]) => a < b ? -1 : 1)) {
      parts.push(`    ${hclString(id)} = ${hclString(url)}`);
    }
    parts.push("  }");
    parts.push("}");
  }
  if (mirror !== undefined) {
    const hosts = mirror.directHosts.map((h) => hclString(`${h}/*/*`)).join(", ");
    parts.push("provider_installation {");
    if (mirror.directHosts.length > 0) {
      parts.push("  direct {");
      parts.push(`    include = [${hosts}]`);
      parts.push("  }");
    }
    parts.push("  network_mirror {");
    parts.push(`    url = ${hclString(mirror.url)}`);
    if (mirror.directHosts.length > 0) parts.push(`    exclude = [${hosts}]`);
    parts.push("  }");
    parts.push("}");
  }
  return { text: parts.join("\n") + "\n", skippedHosts };
}

function providerInstallationJson(mirror: { url: string; directHosts: string[] }): unknown {
  const patterns = mirror.directHosts.map((h) => `${h}/*/*`);
  const block: Record<string, unknown> = {
    network_mirror: patterns.length > 0
      ? { url: mirror.url, exclude: patterns }
      : { url: mirror.url },
  };
  if (patterns.length > 0) block.direct = { include: patterns };
  return block;
}

/** Quotes a string for HCL (JSON string escaping is valid HCL; `${` and `%{` are escaped). */
function hclString(value: string): string {
  return JSON.stringify(value).replaceAll("${", "$${").replaceAll("%{", "%%{");
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : undefined;
}

/** hcl2json renders each labelled block as a list of bodies; JSON configs use a plain object. */
function firstBlock(value: unknown): Record<string, unknown> | undefined {
  if (Array.isArray(value)) return asRecord(value[0]);
  return asRecord(value);
}

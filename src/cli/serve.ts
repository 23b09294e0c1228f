/**
 * `tfcache serve`: runs the cache as a long-lived shared server for a team or a CI fleet.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { resolveCacheDir } from "./cache_dir.ts";
import { startCacheRuntime } from "./cache_runtime.ts";
import { UsageError } from "./cli_error.ts";
import type { Command } from "./command.ts";
import { loadUserCliConfig } from "./cli_config.ts";
import { loadCredentials } from "./credentials.ts";

const HELP = `tfcache serve — run the cache as a shared server

Usage:
  tfcache serve [options]

Options:
  --cache-dir DIR        Cache directory (default: $TFCACHE_CACHE_DIR, else
                         $XDG_CACHE_HOME/tfcache, else ~/.cache/tfcache)
  --listen HOST          Address to listen on (default 127.0.0.1)
  --http-port PORT       Plain-HTTP port for host blocks (default 8480; 0 picks one)
  --https-port PORT      HTTPS port for network_mirror clients (default 8443; 0 picks one)
  --tls-cert FILE        PEM certificate for HTTPS (default: a self-signed certificate for
                         127.0.0.1, ::1 and localhost, kept in the cache directory)
  --tls-key FILE         PEM private key for --tls-cert
  --path-secret SECRET   Serve only under /SECRET/ (a shared secret known to your clients)
  --metadata-ttl SECONDS How long registry metadata is fresh (default 600)
  -h, --help             Show this help

Clients: point terraform or tofu at the printed URLs, either with a provider_installation
network_mirror block (HTTPS; registries whose host has a port are not supported by terraform's
mirror client) or with host blocks for each registry host (HTTP or HTTPS):

  host "registry.terraform.io" {
    services = {
      "providers.v1" = "<base>registry/registry.terraform.io/providers/v1/"
      "modules.v1"   = "<base>modules/registry.terraform.io/"
    }
  }

Upstream credentials are the server's own: TF_TOKEN_<host>, TOFU_TOKEN_<host>, credentials blocks
and credentials.tfrc.json of the user running it. Stop with Ctrl-C or SIGTERM; fills in flight are
finished or cancelled cleanly and the savings report is printed.
`;

/** The `serve` command. */
export const serveCommand: Command = {
  name: "serve",
  summary: "Run the cache as a shared server (network mirror and registry protocols)",
  help: HELP,
  run: runServe,
};

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new UsageError(`${flag} must be a port number from 0 to 65535, got "${value}"`, "serve");
  }
  return n;
}

async function runServe(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        "cache-dir": { type: "string" },
        listen: { type: "string" },
        "http-port": { type: "string" },
        "https-port": { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "path-secret": { type: "string" },
        "metadata-ttl": { type: "string" },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), "serve");
  }
  if ((values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together", "serve");
  }
  const secret = values["path-secret"] ?? "";
  if (secret !== "" && !/^[A-Za-z0-9_-]{8,128}$/.test(secret)) {
    throw new UsageError("--path-secret must be 8 to 128 letters, digits, '-' or '_'", "serve");
  }
  let metadataTtlMs: number | undefined;
  if (values["metadata-ttl"] !== undefined) {
    const seconds = Number(values["metadata-ttl"]);
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new UsageError("--metadata-ttl must be a number of seconds", "serve");
    }
    metadataTtlMs = seconds * 1000;
  }
  const env = Deno.env.toObject();
  const cacheDir = resolveCacheDir(values["cache-dir"], (name) => env[name]);
  const user = await loadUserCliConfig((name) => env[name]);
  const tls = values["tls-cert"] !== undefined && values["tls-key"] !== undefined
    ? {
      certPem: await Deno.readTextFile(values["tls-cert"]),
      keyPem: await Deno.readTextFile(values["tls-key"]),
    }
    : undefined;
  const runtime = await startCacheRuntime({
    cacheDir,
    credentials: await loadCredentials(user, env),
    hostOverrides: Object.fromEntries(user.hosts),
    https: true,
    ...(tls !== undefined ? { tls } : {}),
    hostname: values.listen ?? "127.0.0.1",
    httpPort: port(values["http-port"], 8480, "--http-port"),
    httpsPort: port(values["https-port"], 8443, "--https-port"),
    secret,
    ...(metadataTtlMs !== undefined ? { metadataTtlMs } : {}),
    env,
    log: (level, message) => {
      if (level !== "debug") console.error(`tfcache: ${level}: ${message}`);
    },
  });
  console.error(`tfcache: cache directory ${cacheDir}`);
  console.error(`tfcache: registry protocol (host blocks): ${runtime.httpBaseUrl.href}`);
  if (runtime.httpsBaseUrl !== undefined) {
    console.error(`tfcache: network mirror: ${new URL("providers/", runtime.httpsBaseUrl).href}`);
  }
  const stop = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const listeners = signals.map((signal) => {
    const listener = () => stop.resolve(signal);
    Deno.addSignalListener(signal, listener);
    return { signal, listener };
  });
  const signal = await stop.promise;
  for (const l of listeners) Deno.removeSignalListener(l.signal, l.listener);
  console.error(`tfcache: ${signal} received, shutting down`);
  await runtime.close();
  const line = runtime.stats.formatReport();
  if (line !== "") console.error(`tfcache: ${line}`);
  return 0;
}

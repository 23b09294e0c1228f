/**
 * `tfcache providers <install|mirror>`: provider installation without terraform, through the
 * cache. `install` fills a configuration's `.terraform/providers` (and its lock file) so that
 * `terraform init` downloads nothing; `mirror` writes a `terraform providers mirror`-compatible
 * directory for air-gapped networks.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { UsageError } from "./cli_error.ts";
import { runProvidersInstall } from "./providers_install.ts";
import { runProvidersMirror } from "./providers_mirror.ts";

const HELP = `tfcache providers — install or mirror a configuration's providers through the cache

Usage:
  tfcache providers install [options] [DIR]
  tfcache providers mirror [options] TARGET [DIR]

DIR is the configuration's root module directory (default: the current directory).

tfcache providers install [--upgrade] [--cache-dir CACHE] [DIR]
  Makes DIR/.terraform/providers hold exactly what "terraform init" would install there for the
  configuration's provider requirements and DIR/.terraform.lock.hcl, and creates or updates the
  lock file as "terraform init" does (the local h1: hash plus every signed zh: hash). Afterwards
  "terraform init" in DIR reports each provider as previously installed and downloads nothing.
  Packages come through the tfcache cache (every zip checked against the registry's signed
  SHA256SUMS), are unpacked once into CACHE/unpacked/ and linked into DIR, as terraform does
  with plugin_cache_dir. Many processes may share one cache directory.

  --upgrade             Select the newest versions the constraints allow, ignoring the lock file
                        (like "terraform init -upgrade")

tfcache providers mirror [--platform OS_ARCH]... [--ignore-lock-file] [--cache-dir CACHE] TARGET [DIR]
  Writes the providers DIR needs into TARGET in the layout "terraform providers mirror" writes:
  TARGET/HOST/NAMESPACE/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip plus index.json and
  VERSION.json files, so TARGET works as a filesystem_mirror directory or, served by any static
  web server, as a network_mirror. Zips come through the cache and are verified before they are
  placed; packages already in TARGET are kept and listed.

  --platform OS_ARCH    Platform to mirror (repeatable; default: this machine's), e.g.
                        --platform linux_amd64 --platform darwin_arm64
  --ignore-lock-file    Select versions from the constraints only (default: locked versions)

Common options:
  --cache-dir CACHE     Cache directory (default: $TFCACHE_CACHE_DIR, else
                        $XDG_CACHE_HOME/tfcache, else ~/.cache/tfcache)
  -h, --help            Show this help

Credentials for upstream registries: TF_TOKEN_<host> / TOFU_TOKEN_<host>, credentials blocks in
the CLI configuration, and ~/.terraform.d/credentials.tfrc.json.

Exit status: 0 on success, 1 when a provider could not be installed or mirrored (each failure is
listed), 2 for a usage error.
`;

/** The sub-commands of `tfcache providers`. */
const SUBCOMMANDS: Readonly<Record<string, (args: string[]) => Promise<number>>> = {
  install: runProvidersInstall,
  mirror: runProvidersMirror,
};

/** The `providers` command. */
export const providersCommand: Command = {
  name: "providers",
  summary:
    "Install a configuration's providers (like terraform init) or mirror them, via the cache",
  help: HELP,
  run: runProviders,
};

async function runProviders(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined) {
    throw new UsageError("missing sub-command: install or mirror", "providers");
  }
  const run = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
  if (run === undefined) {
    throw new UsageError(
      `unknown sub-command "${sub}" of providers; use install or mirror`,
      "providers",
    );
  }
  return await run(rest);
}

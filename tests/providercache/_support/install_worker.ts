/**
 * A child process for the multi-process tests: installs providers from a registry into
 * `<workDir>/.terraform/providers` with a shared global cache, then prints the resulting lock
 * entries as JSON on stdout.
 *
 * Usage: `deno run --allow-all install_worker.ts <caCertFile> <globalCacheDir> <workDir> <provider>...`
 *
 * @module
 */

import { join } from "node:path";
import { Dir } from "../../../src/providercache/dir.ts";
import { Installer } from "../../../src/providercache/installer.ts";
import { RegistrySource } from "../../../src/providercache/sources/registry_source.ts";
import { LockFile } from "../../../src/lock/lock_file.ts";
import type { FetchLike } from "../../../src/registry/fetch_like.ts";
import { parseProviderSource } from "../../../src/registry/provider_address.ts";
import { ProviderRegistryClient } from "../../../src/registry/registry_client.ts";
import { ServiceDiscovery } from "../../../src/registry/service_discovery.ts";
import { versionString } from "../../../src/registry/version.ts";

const [caFile, globalDir, workDir, ...providers] = Deno.args;
if (caFile === undefined || globalDir === undefined || workDir === undefined) {
  console.error("usage: install_worker.ts <caCertFile> <globalCacheDir> <workDir> <provider>...");
  Deno.exit(2);
}
const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(caFile)] });
try {
  const fetchFn: FetchLike = (url, init) => fetch(url, { ...init, client });
  const discovery = new ServiceDiscovery({ fetch: fetchFn });
  const source = new RegistrySource({
    client: new ProviderRegistryClient({ fetch: fetchFn, discovery }),
    fetch: fetchFn,
  });
  const installer = new Installer({
    targetDir: new Dir(join(workDir, ".terraform", "providers")),
    globalCacheDir: new Dir(globalDir),
    source,
  });
  const locks = await installer.ensureProviderVersions(
    new LockFile(),
    providers.map((p) => [parseProviderSource(p), []] as const),
    "new-only",
  );
  console.log(JSON.stringify(
    locks.allProviders().map((l) => ({
      version: versionString(l.version),
      hashes: l.hashes,
    })),
  ));
} finally {
  client.close();
}

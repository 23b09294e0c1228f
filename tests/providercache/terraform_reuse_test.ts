import assert from "node:assert/strict";
import { join } from "node:path";
import { Dir } from "../../src/providercache/dir.ts";
import { Installer } from "../../src/providercache/installer.ts";
import { RegistrySource } from "../../src/providercache/sources/registry_source.ts";
import { LockFile } from "../../src/lock/lock_file.ts";
import { formatLockFile } from "../../src/lock/lock_writer.ts";
import type { FetchLike } from "../../src/registry/fetch_like.ts";
import { parseProviderSource } from "../../src/registry/provider_address.ts";
import { ProviderRegistryClient } from "../../src/registry/registry_client.ts";
import { ServiceDiscovery } from "../../src/registry/service_discovery.ts";
import { parseVersionConstraints } from "../../src/registry/version_constraints.ts";
import { startFakeRegistry } from "../support/fake_registry.ts";
import {
  createTerraformSandbox,
  localPlatform,
  parseLockFile,
  terraformInitOk,
  terraformPath,
  writeConfig,
} from "../support/terraform.ts";
import { COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED } from "../support/os_guards.ts";

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name: "real terraform: a package installed by tfcache is reused by terraform init, same h1",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  if (terraformPath() === undefined) {
    console.log("SKIP: terraform not on PATH");
    return;
  }
  const platform = localPlatform();
  await using registry = await startFakeRegistry({
    providers: [{
      namespace: "tfcache",
      type: "alpha",
      versions: ["1.0.0"],
      platforms: [platform],
    }],
  });
  const address = `${registry.host}/tfcache/alpha`;

  // 1. Install with tfcache into DIR/.terraform/providers.
  await using ours = await createTerraformSandbox({ sslCertFile: registry.caFile });
  const client = Deno.createHttpClient({ caCerts: [registry.caCertPem] });
  let locks: LockFile;
  try {
    const fetchFn: FetchLike = (url, init) => fetch(url, { ...init, client });
    const installer = new Installer({
      targetDir: new Dir(join(ours.workDir, ".terraform", "providers")),
      source: new RegistrySource({
        client: new ProviderRegistryClient({
          fetch: fetchFn,
          discovery: new ServiceDiscovery({ fetch: fetchFn }),
        }),
        fetch: fetchFn,
      }),
    });
    locks = await installer.ensureProviderVersions(
      new LockFile(),
      [[parseProviderSource(address), parseVersionConstraints("1.0.0")]],
      "new-only",
    );
  } finally {
    client.close();
  }
  const ourHashes = locks.allProviders()[0]!.hashes;
  await writeConfig(ours.workDir, [{ source: address, version: "1.0.0" }]);
  await Deno.writeTextFile(join(ours.workDir, ".terraform.lock.hcl"), formatLockFile(locks));

  // 2. terraform init reuses it and downloads nothing.
  registry.counters.reset();
  const init = await terraformInitOk([], {
    cwd: ours.workDir,
    env: ours.env,
  });
  assert.match(init.stdout, /Using previously-installed 127\.0\.0\.1:\d+\/tfcache\/alpha v1\.0\.0/);
  assert.equal(registry.counters.byKind.zip, 0, "terraform downloaded the package again");
  assert.equal(registry.counters.byKind["download-info"], 0);
  const after = parseLockFile(await Deno.readTextFile(join(ours.workDir, ".terraform.lock.hcl")));
  assert.deepEqual(after.get(address)?.hashes, [...ourHashes], "terraform kept our lock entry");

  // 3. terraform on its own computes the same hashes.
  await using theirs = await createTerraformSandbox({ sslCertFile: registry.caFile });
  await writeConfig(theirs.workDir, [{ source: address, version: "1.0.0" }]);
  await terraformInitOk([], {
    cwd: theirs.workDir,
    env: theirs.env,
  });
  const theirLock = parseLockFile(
    await Deno.readTextFile(join(theirs.workDir, ".terraform.lock.hcl")),
  );
  assert.deepEqual(theirLock.get(address)?.hashes, [...ourHashes]);
  assert.equal(theirLock.get(address)?.version, "1.0.0");
});

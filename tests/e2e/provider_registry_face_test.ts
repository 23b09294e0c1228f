/**
 * Real terraform against the provider mirror's registry face: terraform is pointed at the cache
 * through a CLI-config `host` block, and the lock file it writes must equal the one a direct
 * install from the (fake) upstream registry writes.
 */
import assert from "node:assert/strict";
import { providerRegistryHostBlock } from "../../src/mirrors/provider_mirror.ts";
import { serveHttp } from "../../src/proxy/http_server.ts";
import { serveHttps } from "../../src/proxy/https_server.ts";
import { generateServerCertificate } from "../../src/proxy/tls.ts";
import {
  createTerraformSandbox,
  localPlatform,
  parseLockFile,
  terraformInitOk,
  terraformPath,
  writeConfig,
} from "../support/terraform.ts";
import { ALPHA, startProviderEnv } from "../mirrors/_support/provider_env.ts";
import { COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED } from "../support/os_guards.ts";

const TERRAFORM = terraformPath();

async function init(
  cliConfig: string,
  caFile: string,
  source: string,
): Promise<{ lock: string; stdout: string }> {
  await using sandbox = await createTerraformSandbox({ sslCertFile: caFile, cliConfig });
  await writeConfig(sandbox.workDir, [{ source, version: "1.0.0" }]);
  const result = await terraformInitOk([], {
    cwd: sandbox.workDir,
    env: sandbox.env,
  });
  return {
    lock: await Deno.readTextFile(`${sandbox.workDir}/.terraform.lock.hcl`),
    stdout: result.stdout,
  };
}

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name: "terraform via a host block: lock file equals a direct install's",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED || TERRAFORM === undefined ||
    !ALPHA.platforms.includes(localPlatform()),
  async fn() {
    await using env = await startProviderEnv({ providers: [ALPHA] });
    const server = serveHttp({ handler: env.handler });
    try {
      const source = `${env.host}/tfcache/alpha`;
      const direct = await init("", env.registry.caFile, source);
      const cached = await init(
        providerRegistryHostBlock(server.url, env.host),
        env.registry.caFile,
        source,
      );
      assert.equal(cached.lock, direct.lock);
      const locked = parseLockFile(cached.lock).get(source);
      const expected = env.registry.expectedHashes("tfcache/alpha", "1.0.0");
      assert.deepEqual(
        new Set(locked?.hashes),
        new Set([expected.h1[localPlatform()], ...Object.values(expected.zh)]),
      );
      // terraform checked the signature itself.
      assert.match(cached.stdout, new RegExp(`self-signed, key ID ${env.registry.signingKeyId}`));
      const zip =
        `providers/${env.host}/tfcache/alpha/terraform-provider-alpha_1.0.0_${localPlatform()}.zip`;
      assert.ok((await env.store.stat(zip)) !== undefined, "the package went through the cache");

      // A second install is served from the cache with the upstream down.
      await env.registry.stop();
      const offline = await init(
        providerRegistryHostBlock(server.url, env.host),
        env.registry.caFile,
        source,
      );
      assert.equal(offline.lock, direct.lock);
      await env.registry.start();
    } finally {
      await env.handler.shutdown();
      await server.close();
    }
  },
});

Deno.test({
  name: "terraform via network_mirror: installs from <version>.json, h1: verified once cached",
  ignore: TERRAFORM === undefined || !ALPHA.platforms.includes(localPlatform()),
  async fn() {
    // terraform's network mirror client cannot build URLs for hosts with a port
    // ("first path segment in URL cannot contain colon"), so use a port-less alias host.
    const alias = "registry.tfcache.test";
    await using env = await startProviderEnv({ providers: [ALPHA], aliasHost: alias });
    const tls = await generateServerCertificate();
    const server = await serveHttps({
      handler: (request) => env.handler.handle(request),
      cert: tls.certPem,
      key: tls.keyPem,
    });
    const bundle = `${env.storeDir}-bundle.pem`;
    try {
      await Deno.writeTextFile(
        bundle,
        (await Deno.readTextFile(env.registry.caFile)) + tls.certPem,
      );
      const cliConfig = `provider_installation {
  network_mirror {
    url = "${server.url.href}providers/"
  }
}
`;
      const source = `${alias}/tfcache/alpha`;
      const expected = env.registry.expectedHashes("tfcache/alpha", "1.0.0");
      const first = await init(cliConfig, bundle, source);
      assert.ok(
        parseLockFile(first.lock).get(source)?.hashes.includes(expected.h1[localPlatform()]!),
        first.lock,
      );
      // Second run: <version>.json now carries the cached package's h1: next to its zh:.
      const version = await (await env.get(`providers/${alias}/tfcache/alpha/1.0.0.json`))
        .json() as { archives: Record<string, { hashes: string[] }> };
      assert.ok(version.archives[localPlatform()]?.hashes.includes(expected.h1[localPlatform()]!));
      const second = await init(cliConfig, bundle, source);
      assert.equal(second.lock, first.lock);
    } finally {
      await env.handler.shutdown();
      await server.close();
      await Deno.remove(bundle).catch(() => {});
    }
  },
});

if (TERRAFORM === undefined) {
  console.log("SKIP: terraform not on PATH; provider registry-face e2e test not run");
}

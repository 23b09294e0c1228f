import assert from "node:assert/strict";
import { join } from "node:path";
import { ArchiveChecksumError, PackageHashMismatchError } from "../../src/providercache/errors.ts";
import {
  installedPackageHash,
  installFromUrl,
  type LocalArtifact,
  withArtifactLocator,
} from "../../src/providercache/package_install.ts";
import type { FetchLike } from "../../src/registry/fetch_like.ts";
import { packageHashV1FromDir } from "../../src/registry/hashes.ts";
import { parseProviderSource } from "../../src/registry/provider_address.ts";
import { parseVersion } from "../../src/registry/version.ts";
import { NULL_H1, NULL_ZIP, NULL_ZIP_ZH, tempDir } from "./_support/fixtures.ts";

const P = parseProviderSource("hashicorp/null");
const V = parseVersion("2.1.0");
const URL_ = "http://cache.invalid/providers/terraform-provider-null_2.1.0_linux_amd64.zip";
const SHA = NULL_ZIP_ZH.slice("zh:".length);

function noNetwork(): FetchLike & { calls: number } {
  const f = Object.assign(() => {
    f.calls++;
    return Promise.reject(new Error("the network must not be used"));
  }, { calls: 0 });
  return f;
}

Deno.test("installFromUrl extracts straight from a located artifact, trusting its sha256", async () => {
  await using tmp = await tempDir();
  const net = noNetwork();
  const located: string[] = [];
  const local: LocalArtifact = {
    path: NULL_ZIP,
    sha256: SHA,
    size: (await Deno.stat(NULL_ZIP)).size,
  };
  const fetch = withArtifactLocator(net, (url) => {
    located.push(url);
    return Promise.resolve(local);
  });
  const target = join(tmp.path, "pkg");
  const result = await installFromUrl(URL_, target, {
    provider: P,
    version: V,
    fetch,
    expectedSha256: SHA,
    allowedHashes: [NULL_H1],
  });
  assert.deepEqual(located, [URL_]);
  assert.equal(net.calls, 0);
  assert.equal(result.zh, NULL_ZIP_ZH);
  assert.equal(result.h1, NULL_H1);
  assert.deepEqual(result.matched, [NULL_H1]);
  assert.equal(await packageHashV1FromDir(target), NULL_H1);
  // The h1 computed while extracting is handed out while the directory is unchanged...
  assert.equal(await installedPackageHash(target), NULL_H1);
  // ...and no longer once it was replaced.
  await Deno.rename(target, `${target}.old`);
  await Deno.mkdir(target);
  assert.equal(await installedPackageHash(target), undefined);
});

Deno.test("a located artifact is still checked: expected sha256 and allowed hashes", async () => {
  await using tmp = await tempDir();
  const size = (await Deno.stat(NULL_ZIP)).size;
  const fetch = withArtifactLocator(
    noNetwork(),
    () => Promise.resolve({ path: NULL_ZIP, sha256: SHA, size }),
  );
  const target = join(tmp.path, "pkg");
  await assert.rejects(
    installFromUrl(URL_, target, {
      provider: P,
      version: V,
      fetch,
      expectedSha256: "ab".repeat(32),
    }),
    ArchiveChecksumError,
  );
  await assert.rejects(
    installFromUrl(URL_, target, {
      provider: P,
      version: V,
      fetch,
      allowedHashes: ["h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="],
    }),
    PackageHashMismatchError,
  );
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(tmp.path))).map((e) => e.name),
    [],
    "nothing visible, no temporaries left",
  );
});

Deno.test("without a located artifact (or with a stale one) the URL is downloaded", async () => {
  await using tmp = await tempDir();
  const zip = await Deno.readFile(NULL_ZIP);
  let gets = 0;
  const net: FetchLike = () => {
    gets++;
    return Promise.resolve(new Response(zip, { status: 200 }));
  };
  for (const local of [undefined, { path: NULL_ZIP, sha256: SHA, size: 1 }]) {
    const target = join(tmp.path, `pkg-${gets}`);
    const result = await installFromUrl(URL_, target, {
      provider: P,
      version: V,
      fetch: withArtifactLocator(net, () => Promise.resolve(local)),
      expectedSha256: SHA,
    });
    assert.equal(result.h1, NULL_H1);
  }
  assert.equal(gets, 2);
});

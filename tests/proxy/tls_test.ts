import "npm:reflect-metadata@0.2.2";
import * as x509 from "npm:@peculiar/x509@2.2.0";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CERTIFICATE_COMMON_NAME,
  ensureServerCertificate,
  writeTrustBundle,
} from "../../src/proxy/tls.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function mode(path: string): number {
  return Deno.statSync(path).mode! & 0o777;
}

Deno.test("ensureServerCertificate creates a P-256 certificate for the loopback names", async () => {
  await withTempDir(async (root) => {
    const before = Date.now();
    const got = await ensureServerCertificate(root);
    assert.equal(got.generated, true);
    assert.equal(got.certPath, join(root, "tls", "cert.pem"));
    assert.equal(got.keyPath, join(root, "tls", "key.pem"));
    assert.equal(await Deno.readTextFile(got.certPath), got.certPem);
    assert.match(got.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);

    const cert = new x509.X509Certificate(got.certPem);
    assert.equal(cert.subject, `CN=${CERTIFICATE_COMMON_NAME}`);
    assert.equal(cert.subject, cert.issuer);
    const days = (cert.notAfter.getTime() - before) / DAY_MS;
    assert.ok(days > 389.9 && days < 390.1, `validity ${days} days`);
    assert.equal((cert.publicKey.algorithm as EcKeyAlgorithm).namedCurve, "P-256");
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    assert.ok(san !== null);
    assert.deepEqual(
      san.names.toJSON().map((n) => `${n.type}:${n.value}`).toSorted(),
      ["dns:localhost", "ip:127.0.0.1", "ip:::1"],
    );
    assert.ok(await cert.verify({ signatureOnly: true }));

    if (Deno.build.os !== "windows") {
      assert.equal(mode(join(root, "tls")), 0o700);
      assert.equal(mode(got.certPath), 0o644);
      assert.equal(mode(got.keyPath), 0o600);
    }
  });
});

Deno.test("ensureServerCertificate reuses a valid certificate across runs", async () => {
  await withTempDir(async (root) => {
    const first = await ensureServerCertificate(root);
    const second = await ensureServerCertificate(root);
    assert.equal(second.generated, false);
    assert.equal(second.certPem, first.certPem);
    assert.equal(second.keyPem, first.keyPem);
  });
});

Deno.test("ensureServerCertificate regenerates near expiry, when damaged or mismatched", async () => {
  await withTempDir(async (root) => {
    const first = await ensureServerCertificate(root);

    // 361 days later fewer than 30 days remain.
    const later = new Date(Date.now() + 361 * DAY_MS);
    const renewed = await ensureServerCertificate(root, { now: later });
    assert.equal(renewed.generated, true);
    assert.notEqual(renewed.certPem, first.certPem);

    await Deno.writeTextFile(renewed.certPath, "garbage");
    const repaired = await ensureServerCertificate(root);
    assert.equal(repaired.generated, true);

    await Deno.writeTextFile(repaired.keyPath, first.keyPem); // a key of another certificate
    const rekeyed = await ensureServerCertificate(root);
    assert.equal(rekeyed.generated, true);

    await Deno.remove(rekeyed.keyPath);
    const restored = await ensureServerCertificate(root);
    assert.equal(restored.generated, true);
    assert.equal((await ensureServerCertificate(root)).generated, false);
  });
});

Deno.test("ensureServerCertificate is safe when two processes start at once", async () => {
  await withTempDir(async (root) => {
    const script = `import { ensureServerCertificate } from ${
      JSON.stringify(new URL("../../src/proxy/tls.ts", import.meta.url).href)
    };
const r = await ensureServerCertificate(Deno.args[0]);
console.log(JSON.stringify({ generated: r.generated, certPem: r.certPem }));`;
    const runs = await Promise.all([0, 1, 2].map(() =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", "--quiet", script, root],
        stdout: "piped",
        stderr: "piped",
      }).output()
    ));
    const results = runs.map((r) => {
      assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      return JSON.parse(new TextDecoder().decode(r.stdout)) as {
        generated: boolean;
        certPem: string;
      };
    });
    assert.equal(results.filter((r) => r.generated).length, 1);
    assert.equal(new Set(results.map((r) => r.certPem)).size, 1);
    const leftovers = (await Array.fromAsync(Deno.readDir(join(root, "tls"))))
      .map((e) => e.name).toSorted();
    assert.deepEqual(leftovers, [".lock", "cert.pem", "key.pem"]);
  });
});

Deno.test("the certificate serves TLS that Deno's fetch verifies", async () => {
  await withTempDir(async (root) => {
    const { certPem, keyPem } = await ensureServerCertificate(root);
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, cert: certPem, key: keyPem, onListen() {} },
      () => new Response("hi"),
    );
    using client = Deno.createHttpClient({ caCerts: [certPem] });
    for (const host of ["127.0.0.1", "localhost"]) {
      const res = await fetch(`https://${host}:${server.addr.port}/`, { client });
      assert.equal(await res.text(), "hi");
    }
  });
});

Deno.test("writeTrustBundle appends the user's SSL_CERT_FILE and our certificate to the system roots", async () => {
  await withTempDir(async (root) => {
    const system = join(root, "system.pem");
    const user = join(root, "user.pem");
    const fakeCert = (name: string) =>
      `-----BEGIN CERTIFICATE-----\n${btoa(name)}\n-----END CERTIFICATE-----\n`;
    await Deno.writeTextFile(system, fakeCert("system"));
    await Deno.writeTextFile(user, fakeCert("user"));
    const ours = fakeCert("ours");
    const missing = join(root, "missing.pem");

    const path = await writeTrustBundle(root, ours, { SSL_CERT_FILE: user }, [missing, system]);
    assert.equal(path, join(root, "tls", "bundle.pem"));
    assert.equal(
      await Deno.readTextFile(path),
      `${fakeCert("system")}\n${fakeCert("user")}\n${ours}`,
    );

    // SSL_CERT_FILE naming the system bundle, or our own bundle (a nested run), is not repeated.
    for (const again of [system, path]) {
      await writeTrustBundle(root, ours, { SSL_CERT_FILE: again }, [system]);
      assert.equal(await Deno.readTextFile(path), `${fakeCert("system")}\n${ours}`);
    }
    // An unreadable SSL_CERT_FILE is skipped.
    await writeTrustBundle(root, ours, { SSL_CERT_FILE: missing }, [system]);
    assert.equal(await Deno.readTextFile(path), `${fakeCert("system")}\n${ours}`);
    // No system bundle at all: still our certificate.
    await writeTrustBundle(root, ours, {}, [missing]);
    assert.equal(await Deno.readTextFile(path), ours);
    if (Deno.build.os !== "windows") assert.equal(mode(path), 0o644);
  });
});

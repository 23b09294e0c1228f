/**
 * `tfcache serve` as a real process: it serves the registry protocol and the network mirror,
 * shuts down on SIGTERM with exit 0 and prints the savings report.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startFakeRegistry } from "../support/fake_registry.ts";
import { denoEnv, MAIN_TS } from "./_support/run_cli.ts";

async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  done: (text: string) => boolean,
): Promise<string> {
  let text = "";
  while (!done(text)) {
    const { value, done: ended } = await reader.read();
    if (ended) throw new Error(`tfcache serve ended early:\n${text}`);
    text += value;
  }
  return text;
}

Deno.test({
  name: "tfcache serve answers both protocols and stops cleanly on SIGTERM",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await using registry = await startFakeRegistry({
      providers: [{
        namespace: "tfcache",
        type: "alpha",
        versions: ["1.0.0"],
        platforms: ["linux_amd64"],
      }],
    });
    const root = await Deno.makeTempDir({ prefix: "tfcache-serve-test-" });
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          "--quiet",
          MAIN_TS,
          "serve",
          "--cache-dir",
          join(root, "cache"),
          "--http-port",
          "0",
          "--https-port",
          "0",
          "--path-secret",
          "team-secret-1",
        ],
        env: {
          ...denoEnv(),
          HOME: root,
          PATH: Deno.env.get("PATH") ?? "",
          SSL_CERT_FILE: registry.caFile,
        },
        clearEnv: true,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
      const banner = await readUntil(reader, (t) => /network mirror: \S+\n/.test(t));
      const base = /registry protocol \(host blocks\): (\S+)/.exec(banner)?.[1];
      const mirror = /network mirror: (\S+)/.exec(banner)?.[1];
      assert.ok(base?.includes("/team-secret-1/"), banner);
      assert.ok(mirror?.startsWith("https://127.0.0.1:"), banner);

      const versions = await fetch(
        `${base}registry/${registry.host}/providers/v1/tfcache/alpha/versions`,
      );
      assert.equal(versions.status, 200);
      const doc = await versions.json() as { versions: { version: string }[] };
      assert.deepEqual(doc.versions.map((v) => v.version), ["1.0.0"]);
      // Without the secret, nothing is served.
      const outside = await fetch(base!.replace("/team-secret-1/", "/"));
      await outside.body?.cancel();
      assert.equal(outside.status, 404);

      child.kill("SIGTERM");
      const rest = await readUntil(reader, (t) => /downloaded and cached/.test(t)).catch((e) =>
        String(e)
      );
      reader.releaseLock();
      const status = await child.status;
      assert.equal(status.code, 0);
      assert.match(rest, /SIGTERM received, shutting down/);
      // The registry's discovery document and its versions document.
      assert.match(rest, /downloaded and cached \(2 objects\)/);
      await child.stderr.cancel().catch(() => {});
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("tfcache serve refuses bad options with a usage error", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", MAIN_TS, "serve", "--http-port", "99999"],
    env: denoEnv(),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 2);
  assert.match(new TextDecoder().decode(output.stderr), /--http-port must be a port number/);
});

import assert from "node:assert/strict";
import { formatByteCount, ProvidersOutput } from "../../src/cli/providers_progress.ts";

function recorder(terminal: boolean) {
  let now = 0;
  const writes: string[] = [];
  const out = new ProvidersOutput({
    write: (t) => writes.push(t),
    terminal,
    now: () => now,
    columns: 60,
  });
  return { out, writes, tick: (ms: number) => (now += ms) };
}

Deno.test("providers output: plain lines only when not a terminal", () => {
  const { out, writes } = recorder(false);
  out.downloadStarted("u", "alpha 1.0.0", 100);
  out.downloadProgress("u", 50);
  out.line("- Installed alpha");
  out.downloadEnded("u");
  out.close();
  assert.deepEqual(writes, ["- Installed alpha\n"]);
});

Deno.test("providers output: a status line redrawn in place at most every 100 ms", () => {
  const { out, writes, tick } = recorder(true);
  out.downloadStarted("u", "alpha 1.0.0", 200);
  assert.deepEqual(writes, ["\r\x1b[K  downloading alpha 1.0.0 0%"]);
  out.downloadProgress("u", 50); // too soon: not drawn
  assert.equal(writes.length, 1);
  tick(100);
  out.downloadProgress("u", 100);
  assert.equal(writes.at(-1), "\r\x1b[K  downloading alpha 1.0.0 50%");
  out.line("- Installing beta");
  assert.deepEqual(writes.slice(-3), [
    "\r\x1b[K",
    "- Installing beta\n",
    "\r\x1b[K  downloading alpha 1.0.0 50%",
  ]);
  out.downloadEnded("u");
  assert.equal(writes.at(-1), "\r\x1b[K", "the status line is erased when nothing is in flight");
  const count = writes.length;
  out.close();
  assert.equal(writes.length, count, "nothing left to erase");
});

Deno.test("providers output: unknown sizes show bytes; long lines are cut to the width", () => {
  const { out } = recorder(true);
  out.downloadStarted("a", "alpha 1.0.0", undefined);
  out.downloadProgress("a", 3 * 1024 * 1024);
  out.downloadStarted("b", "a-provider-with-a-very-long-name 10.20.30", undefined);
  const text = out.statusText();
  assert.ok(text.startsWith("  downloading alpha 1.0.0 3.0 MiB, a-provider"), text);
  assert.ok(text.length <= 60 && text.endsWith("…"), text);
  out.close();
});

Deno.test("formatByteCount", () => {
  assert.equal(formatByteCount(0), "0 B");
  assert.equal(formatByteCount(1023), "1023 B");
  assert.equal(formatByteCount(1536), "1.5 KiB");
  assert.equal(formatByteCount(100 * 1024 * 1024), "100.0 MiB");
});

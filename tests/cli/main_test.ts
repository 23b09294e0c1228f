import assert from "node:assert/strict";
import { describeError } from "../../src/cli/describe_error.ts";
import { topLevelHelp } from "../../src/cli/main.ts";
import { VERSION } from "../../src/cli/version.ts";
import { denoEnv, runCli } from "./_support/run_cli.ts";

Deno.test("tfcache --help lists every command with its summary", async () => {
  const { code, stdout } = await runCli(["--help"], { env: denoEnv() });
  assert.equal(code, 0);
  for (const name of ["run", "serve"]) assert.match(stdout, new RegExp(`^  ${name} +\\S`, "m"));
  assert.equal(stdout.trim(), topLevelHelp().trim());
});

Deno.test("tfcache --version prints the version from deno.json", async () => {
  const { code, stdout } = await runCli(["--version"], { env: denoEnv() });
  assert.equal(code, 0);
  assert.equal(stdout.trim(), `tfcache ${VERSION}`);
  assert.match(VERSION, /^\d+\.\d+\.\d+/);
});

Deno.test("tfcache rejects an unknown command and a bad flag with exit code 2", async () => {
  const unknown = await runCli(["frobnicate"], { env: denoEnv() });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const badFlag = await runCli(["run", "--no-such-flag", "--", "true"], { env: denoEnv() });
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /no-such-flag/);
  assert.match(badFlag.stderr, /tfcache run --help/);
});

Deno.test("tfcache run --help explains the command without running anything", async () => {
  const { code, stdout } = await runCli(["run", "--help"], { env: denoEnv() });
  assert.equal(code, 0);
  assert.match(stdout, /--cache-dir DIR/);
  assert.match(stdout, /--report-json FILE/);
});

Deno.test("describeError follows the cause chain without repeating itself", () => {
  const inner = new Error("connection refused");
  const outer = new Error('Cannot fetch "x"', { cause: inner });
  assert.equal(describeError(outer), 'Cannot fetch "x"\n  caused by: connection refused');
  assert.equal(describeError(new Error("a: b", { cause: new Error("b") })), "a: b");
});

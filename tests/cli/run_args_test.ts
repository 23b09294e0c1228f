import assert from "node:assert/strict";
import { UsageError } from "../../src/cli/cli_error.ts";
import { parseRunArgs } from "../../src/cli/run_args.ts";

Deno.test("parseRunArgs splits tfcache options from the command at --", () => {
  const parsed = parseRunArgs([
    "--cache-dir",
    "/c",
    "--lock-platform",
    "linux_amd64",
    "--lock-platform=darwin_arm64",
    "--",
    "terraform",
    "init",
    "--upgrade",
  ]);
  assert.equal(parsed.cacheDir, "/c");
  assert.deepEqual(parsed.lockPlatforms, ["linux_amd64", "darwin_arm64"]);
  assert.deepEqual(parsed.command, ["terraform", "init", "--upgrade"]);
});

Deno.test("parseRunArgs without -- starts the command at the first non-option", () => {
  const parsed = parseRunArgs(["-q", "--report-json", "r.json", "tofu", "init", "-input=false"]);
  assert.equal(parsed.quiet, true);
  assert.equal(parsed.reportJson, "r.json");
  assert.deepEqual(parsed.command, ["tofu", "init", "-input=false"]);
});

Deno.test("parseRunArgs refuses a missing command and unknown options", () => {
  assert.throws(() => parseRunArgs(["--cache-dir", "/c"]), UsageError);
  assert.throws(() => parseRunArgs(["--"]), /missing the command/);
  assert.throws(() => parseRunArgs(["--bogus", "--", "terraform"]), UsageError);
});

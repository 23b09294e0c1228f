/**
 * Runs `deno task demo` (tests/support/demo.ts) as a child process, with terraform on PATH (SKIP
 * when it is not installed) and with a PATH that hides terraform (the registry-client fallback).
 */

import assert from "node:assert/strict";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { denoEnv } from "../cli/_support/run_cli.ts";
import { terraformPath } from "./terraform.ts";
import { COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED } from "./os_guards.ts";

const DEMO_TS = fileURLToPath(new URL("./demo.ts", import.meta.url));

async function runDemo(path: string): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", DEMO_TS],
    env: {
      ...denoEnv(),
      PATH: path,
      HOME: Deno.env.get("HOME") ?? "/nonexistent",
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
    },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

/** The savings reports the demo printed, in order (warnings and errors left out). */
function reports(output: string): string[] {
  return output.split("\n")
    .map((line) => /^\s+tfcache: (?!warn|error)(.*)$/.exec(line)?.[1])
    .filter((line): line is string => line !== undefined);
}

/** The parent's PATH without the directories that hold a `terraform` executable. */
function pathWithoutTerraform(): string {
  const dirs = (Deno.env.get("PATH") ?? "").split(delimiter).filter((dir) => {
    if (dir === "") return false;
    try {
      Deno.statSync(join(dir, Deno.build.os === "windows" ? "terraform.exe" : "terraform"));
      return false;
    } catch {
      return true;
    }
  });
  return [dirname(Deno.execPath()), ...dirs].join(delimiter);
}

function assertDemoPassed(run: { code: number; output: string }): void {
  assert.equal(run.code, 0, run.output);
  const found = reports(run.output);
  assert.equal(found.length, 2, `two savings reports expected:\n${run.output}`);
  assert.match(found[0]!, /downloaded and cached/, run.output);
  assert.match(found[1]!, /saved/, run.output);
  assert.doesNotMatch(found[1]!, /downloaded/, run.output);
  assert.match(run.output, /Summary/);
}

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name: "demo: terraform init through tfcache twice, the second all hits",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  const terraform = terraformPath();
  if (terraform === undefined) {
    console.log("SKIP: demo with terraform: terraform not on PATH");
    return;
  }
  const run = await runDemo(Deno.env.get("PATH") ?? dirname(terraform));
  assertDemoPassed(run);
  assert.match(run.output, /Terraform has been successfully initialized/);
});

// Windows: providers are unpacked under a "127.0.0.1:<port>" directory (see os_guards.ts).
Deno.test({
  name: "demo: without terraform, tfcache's own client fetches the same endpoints twice",
  ignore: COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED,
}, async () => {
  const run = await runDemo(pathWithoutTerraform());
  assertDemoPassed(run);
  assert.match(run.output, /terraform is not on PATH/);
  assert.match(run.output, /matches SHA256SUMS/);
});

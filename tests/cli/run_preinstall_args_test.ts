import assert from "node:assert/strict";
import { detectInit, splitShellWords, toolOf } from "../../src/cli/run_preinstall_args.ts";
import { parseRunArgs } from "../../src/cli/run_args.ts";

const noEnv = () => undefined;

Deno.test("toolOf: terraform and tofu by basename, with .exe and any directory", () => {
  assert.equal(toolOf("terraform"), "terraform");
  assert.equal(toolOf("/usr/local/bin/terraform"), "terraform");
  assert.equal(toolOf("C:\\tools\\Terraform.EXE"), "terraform");
  assert.equal(toolOf("./tofu"), "tofu");
  assert.equal(toolOf("tofu.exe"), "tofu");
  assert.equal(toolOf("terragrunt"), undefined);
  assert.equal(toolOf("/opt/terraform/bin/sh"), undefined);
});

Deno.test("detectInit: init with harmless options, -chdir honoured (last one wins)", () => {
  assert.deepEqual(detectInit(["terraform", "init"], noEnv), {
    kind: "init",
    tool: "terraform",
    chdir: undefined,
  });
  assert.deepEqual(
    detectInit(
      [
        "tofu",
        "-chdir=a",
        "-chdir=b",
        "init",
        "-input=false",
        "-no-color",
        "-backend=false",
        "-get=false",
        "-lockfile=readonly",
        "-backend-config",
        "-upgrade", // the value of -backend-config, not an option
        "-upgrade=false",
        "--json",
      ],
      noEnv,
    ),
    { kind: "init", tool: "tofu", chdir: "b" },
  );
});

Deno.test("detectInit: other commands and help are not init", () => {
  for (
    const command of [
      ["terraform", "plan"],
      ["terraform"],
      ["bash", "-c", "terraform init"],
      ["terraform", "-version"],
      ["terraform", "-chdir", "x", "init"],
      ["terraform", "init", "-help"],
      ["terraform", "init", "--h"],
    ]
  ) {
    assert.equal(detectInit(command, noEnv).kind, "not-init", command.join(" "));
  }
});

Deno.test("detectInit: options that make pre-installing unsafe", () => {
  const cases: [string[], RegExp][] = [
    [["terraform", "init", "-upgrade"], /-upgrade/],
    [["terraform", "init", "--upgrade"], /-upgrade/],
    [["terraform", "init", "-upgrade=true"], /-upgrade/],
    [["terraform", "init", "-upgrade=maybe"], /-upgrade/],
    [["terraform", "init", "-plugin-dir=/p"], /-plugin-dir/],
    [["terraform", "init", "-plugin-dir", "/p"], /-plugin-dir/],
    [["tofu", "init", "-from-module=git::https://x/y"], /-from-module/],
    [["terraform", "init", "-get-plugins=false"], /-get-plugins/],
    [["terraform", "init", "somedir"], /no arguments/],
    [["terraform", "init", "--", "x"], /no arguments/],
  ];
  for (const [command, reason] of cases) {
    const found = detectInit(command, noEnv);
    assert.equal(found.kind, "unsafe", command.join(" "));
    assert.match(found.kind === "unsafe" ? found.reason : "", reason);
  }
});

Deno.test("detectInit: TF_CLI_ARGS and TF_CLI_ARGS_init count", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(detectInit(["terraform", "init"], env({ TF_CLI_ARGS: "-upgrade" })).kind, "unsafe");
  assert.equal(
    detectInit(["terraform", "init"], env({ TF_CLI_ARGS_init: "-input=false -upgrade" })).kind,
    "unsafe",
  );
  assert.equal(
    detectInit(["terraform", "init"], env({ TF_CLI_ARGS_plan: "-upgrade" })).kind,
    "init",
  );
  assert.equal(
    detectInit(["terraform", "init"], env({ TF_CLI_ARGS_init: `-backend-config="a b"` })).kind,
    "init",
  );
});

Deno.test("splitShellWords: quotes and escapes", () => {
  assert.deepEqual(splitShellWords(""), []);
  assert.deepEqual(splitShellWords("  -a   -b "), ["-a", "-b"]);
  assert.deepEqual(splitShellWords(`-x="a b" 'c d' e\\ f ""`), ["-x=a b", "c d", "e f", ""]);
  assert.deepEqual(splitShellWords(`"a\\"b"`), ['a"b']);
});

Deno.test("parseRunArgs: --no-preinstall", () => {
  assert.equal(parseRunArgs(["--", "terraform", "init"]).preinstall, true);
  assert.equal(parseRunArgs(["--no-preinstall", "--", "terraform", "init"]).preinstall, false);
  assert.equal(parseRunArgs(["--no-preinstall", "terraform", "init"]).command[0], "terraform");
});

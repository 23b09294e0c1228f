import assert from "node:assert/strict";
import {
  configFileSyntax,
  isIgnoredConfigFile,
  isOverrideFile,
  listConfigFiles,
} from "../../src/config/config_files.ts";
import { tempConfig } from "./_support/temp_config.ts";
import { SYMLINKS_UNSUPPORTED } from "../support/os_guards.ts";

Deno.test("isIgnoredConfigFile() ignores dot-files, backups and Emacs autosaves", () => {
  assert.equal(isIgnoredConfigFile(".main.tf"), true);
  assert.equal(isIgnoredConfigFile("main.tf~"), true);
  assert.equal(isIgnoredConfigFile("#main.tf#"), true);
  assert.equal(isIgnoredConfigFile("main.tf"), false);
});

Deno.test("configFileSyntax() recognises .tf, .tf.json and (for OpenTofu) .tofu", () => {
  assert.equal(configFileSyntax("main.tf"), "hcl");
  assert.equal(configFileSyntax("main.tf.json"), "json");
  assert.equal(configFileSyntax("main.tofu"), undefined);
  assert.equal(configFileSyntax("main.tofu", "opentofu"), "hcl");
  assert.equal(configFileSyntax("main.tofu.json", "opentofu"), "json");
  assert.equal(configFileSyntax("main.tftest.hcl"), undefined);
  assert.equal(configFileSyntax("terraform.tfvars"), undefined);
  assert.equal(configFileSyntax(".tf"), undefined);
  assert.equal(configFileSyntax("main.tf.swp"), undefined);
});

Deno.test("isOverrideFile() matches override and *_override only", () => {
  assert.equal(isOverrideFile("override.tf"), true);
  assert.equal(isOverrideFile("override.tf.json"), true);
  assert.equal(isOverrideFile("dev_override.tf"), true);
  assert.equal(isOverrideFile("overrides.tf"), false);
  assert.equal(isOverrideFile("my-override.tf"), false);
  assert.equal(isOverrideFile("override.txt"), false);
});

Deno.test("listConfigFiles() splits primary and override files and skips the rest", async () => {
  await using cfg = await tempConfig({
    "main.tf": "",
    "b.tf.json": "{}",
    "override.tf": "",
    "x_override.tf.json": "{}",
    ".hidden.tf": "",
    "main.tf~": "",
    "#main.tf#": "",
    "notes.md": "",
    "main.tofu": "",
    "test.tftest.hcl": "",
    "sub/inner.tf": "",
  });
  await Deno.mkdir(`${cfg.dir}/dir.tf`);
  const files = await listConfigFiles(cfg.dir);
  assert.deepEqual(files, {
    primary: ["b.tf.json", "main.tf"],
    override: ["override.tf", "x_override.tf.json"],
  });
});

// Windows: creating symlinks (a dangling one especially) needs privileges and a link type.
Deno.test({
  name: "listConfigFiles() follows symlinks to files and skips dangling ones",
  ignore: SYMLINKS_UNSUPPORTED,
}, async () => {
  await using cfg = await tempConfig({ "real/shared.tf": "", "mod/main.tf": "" });
  await Deno.symlink(`${cfg.dir}/real/shared.tf`, `${cfg.dir}/mod/shared.tf`);
  await Deno.symlink(`${cfg.dir}/real/missing.tf`, `${cfg.dir}/mod/dangling.tf`);
  const files = await listConfigFiles(`${cfg.dir}/mod`);
  assert.deepEqual(files.primary, ["main.tf", "shared.tf"]);
});

Deno.test("listConfigFiles() with flavor opentofu lets name.tofu hide name.tf", async () => {
  await using cfg = await tempConfig({
    "main.tf": "",
    "main.tofu": "",
    "vars.tf": "",
    "data.tf.json": "{}",
    "data.tofu.json": "{}",
  });
  const files = await listConfigFiles(cfg.dir, { flavor: "opentofu" });
  assert.deepEqual(files.primary, ["data.tofu.json", "main.tofu", "vars.tf"]);
  const tf = await listConfigFiles(cfg.dir);
  assert.deepEqual(tf.primary, ["data.tf.json", "main.tf", "vars.tf"]);
});

Deno.test("listConfigFiles() rejects a missing directory with NotFound", async () => {
  await using cfg = await tempConfig({});
  await assert.rejects(listConfigFiles(`${cfg.dir}/nope`), Deno.errors.NotFound);
});

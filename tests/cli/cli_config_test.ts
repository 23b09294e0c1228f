import assert from "node:assert/strict";
import {
  CliConfigError,
  parseUserCliConfig,
  renderCliConfig,
  userCliConfigPath,
} from "../../src/cli/cli_config.ts";

const HCL = `plugin_cache_dir = "$HOME/.terraform.d/plugin-cache"
credentials "app.terraform.io" {
  token = "abc.atlasv1.def"
}
host "private.example.com" {
  services = {
    "providers.v1" = "https://private.example.com/custom/providers/"
  }
}
`;

Deno.test("parseUserCliConfig reads credentials, host blocks and provider_installation", async () => {
  const user = await parseUserCliConfig("rc", HCL);
  assert.equal(user.credentials.get("app.terraform.io"), "abc.atlasv1.def");
  assert.deepEqual(user.hosts.get("private.example.com"), {
    "providers.v1": "https://private.example.com/custom/providers/",
  });
  assert.equal(user.hasProviderInstallation, false);
  const withInstall = await parseUserCliConfig("rc", "provider_installation {\n  direct {}\n}\n");
  assert.equal(withInstall.hasProviderInstallation, true);
});

Deno.test("parseUserCliConfig names the file on a syntax error", async () => {
  await assert.rejects(parseUserCliConfig("/home/u/.terraformrc", "host {{{"), (error) => {
    assert.ok(error instanceof CliConfigError);
    assert.match(error.message, /\/home\/u\/\.terraformrc/);
    return true;
  });
});

Deno.test("renderCliConfig keeps the user's file verbatim and adds host blocks and a mirror", async () => {
  const user = await parseUserCliConfig("rc", HCL);
  const { text, skippedHosts } = renderCliConfig(user, {
    hostServices: new Map([
      ["registry.terraform.io", {
        "providers.v1": "http://127.0.0.1:1/s/registry/registry.terraform.io/providers/v1/",
      }],
      ["private.example.com", { "providers.v1": "http://127.0.0.1:1/s/x/" }],
    ]),
    networkMirror: {
      url: "https://127.0.0.1:2/s/providers/",
      directHosts: ["registry.terraform.io"],
    },
  });
  assert.ok(text.includes(HCL.trimEnd()), "user's configuration kept verbatim");
  assert.deepEqual(skippedHosts, ["private.example.com"]);
  // The result must be valid HCL with both blocks, parsed by the same real parser.
  const reparsed = await parseUserCliConfig("out", text);
  assert.equal(
    reparsed.hosts.get("registry.terraform.io")?.["providers.v1"],
    "http://127.0.0.1:1/s/registry/registry.terraform.io/providers/v1/",
  );
  assert.equal(
    reparsed.hosts.get("private.example.com")?.["providers.v1"],
    "https://private.example.com/custom/providers/",
  );
  assert.equal(reparsed.hasProviderInstallation, true);
  assert.match(text, /exclude = \["registry\.terraform\.io\/\*\/\*"\]/);
});

Deno.test("renderCliConfig leaves a user's provider_installation alone and handles JSON configs", async () => {
  const own = await parseUserCliConfig("rc", "provider_installation {\n  direct {}\n}\n");
  const plan = {
    hostServices: new Map([["registry.terraform.io", { "providers.v1": "http://127.0.0.1:1/p/" }]]),
    networkMirror: { url: "https://127.0.0.1:2/m/", directHosts: [] },
  };
  assert.doesNotMatch(renderCliConfig(own, plan).text, /network_mirror/);
  const json = await parseUserCliConfig("rc.json", '{"plugin_cache_dir": "/p"}');
  const rendered = JSON.parse(renderCliConfig(json, plan).text);
  assert.equal(rendered.plugin_cache_dir, "/p");
  assert.equal(
    rendered.host["registry.terraform.io"].services["providers.v1"],
    "http://127.0.0.1:1/p/",
  );
  assert.equal(rendered.provider_installation.network_mirror.url, "https://127.0.0.1:2/m/");
});

Deno.test("userCliConfigPath follows terraform's search order", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.deepEqual(
    userCliConfigPath(env({ TF_CLI_CONFIG_FILE: "/a", TOFU_CLI_CONFIG_FILE: "/b" })),
    {
      path: "/a",
      explicit: true,
    },
  );
  assert.deepEqual(userCliConfigPath(env({ TOFU_CLI_CONFIG_FILE: "/b", HOME: "/h" })), {
    path: "/b",
    explicit: true,
  });
  assert.equal(userCliConfigPath(env({ HOME: "/h" }), "linux").path, "/h/.terraformrc");
});

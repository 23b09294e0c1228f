import assert from "node:assert/strict";
import { httpsGitHost } from "../../src/cli/git_hosts.ts";

Deno.test("httpsGitHost finds the host of HTTPS git module sources only", () => {
  assert.equal(httpsGitHost("git::https://github.com/org/repo.git?ref=v1"), "github.com");
  assert.equal(
    httpsGitHost("git::https://git.example.com:8443/org/repo.git//sub?ref=v1"),
    "git.example.com:8443",
  );
  assert.equal(httpsGitHost("github.com/hashicorp/example"), "github.com");
  assert.equal(httpsGitHost("https://gitlab.example.com/group/repo.git"), "gitlab.example.com");
  assert.equal(httpsGitHost("git::ssh://git@github.com/org/repo.git"), undefined);
  assert.equal(httpsGitHost("git@github.com:org/repo.git"), undefined);
  assert.equal(httpsGitHost("hashicorp/consul/aws"), undefined);
  assert.equal(httpsGitHost("./modules/vpc"), undefined);
  assert.equal(httpsGitHost("https://example.com/archive.tar.gz"), undefined);
  assert.equal(httpsGitHost("git::https://user:pw@github.com/org/repo.git"), undefined);
});

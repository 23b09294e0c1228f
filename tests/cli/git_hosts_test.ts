import assert from "node:assert/strict";
import { gitRemoteHost, httpsGitHost } from "../../src/cli/git_hosts.ts";

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

Deno.test("gitRemoteHost reports plain-HTTP hosts only for explicit git::http:// sources", () => {
  assert.deepEqual(gitRemoteHost("git::http://127.0.0.1:8080/repo.git//sub?ref=v1"), {
    scheme: "http",
    host: "127.0.0.1:8080",
  });
  assert.deepEqual(gitRemoteHost("git::https://GitHub.com/org/repo.git"), {
    scheme: "https",
    host: "github.com",
  });
  assert.equal(gitRemoteHost("http://127.0.0.1:8080/repo.git"), undefined, "the http getter");
  assert.equal(gitRemoteHost("git::http://user:pw@127.0.0.1/repo.git"), undefined);
  assert.equal(gitRemoteHost("git::ftp://127.0.0.1/repo.git"), undefined);
  assert.equal(httpsGitHost("git::http://127.0.0.1:8080/repo.git"), undefined);
});

import { join } from "node:path";
import assert from "node:assert/strict";
import { assertRejects } from "./_support/assert.ts";
import { g, makeRepo, serveGit, writeFiles } from "./_support/git_repos.ts";
import { MiniCore } from "./_support/mini_core.ts";
import { startFakeModuleRegistry } from "./_support/fake_module_registry.ts";
import { gitInsteadOfEnv, GitMirror } from "../../src/mirrors/git_mirror.ts";
import { ModuleMirror } from "../../src/mirrors/module_mirror.ts";
import { HttpError } from "../../src/proxy/errors.ts";
import { terraformPath } from "../support/terraform.ts";

Deno.test("gitInsteadOfEnv builds GIT_CONFIG_* entries after inherited ones", () => {
  const base = new URL("https://127.0.0.1:9/s3cr3t/");
  assert.deepEqual(
    gitInsteadOfEnv(base, ["GitHub.com"], {
      inherited: { GIT_CONFIG_COUNT: "2" },
      ssh: true,
      caFile: "/ca.pem",
    }),
    {
      GIT_CONFIG_KEY_2: "url.https://127.0.0.1:9/s3cr3t/git/github.com/.insteadOf",
      GIT_CONFIG_VALUE_2: "https://github.com/",
      GIT_CONFIG_KEY_3: "url.https://127.0.0.1:9/s3cr3t/git/github.com/.insteadOf",
      GIT_CONFIG_VALUE_3: "ssh://git@github.com/",
      GIT_CONFIG_KEY_4: "url.https://127.0.0.1:9/s3cr3t/git/github.com/.insteadOf",
      GIT_CONFIG_VALUE_4: "git@github.com:",
      GIT_CONFIG_KEY_5: "http.https://127.0.0.1:9/s3cr3t/.sslCAInfo",
      GIT_CONFIG_VALUE_5: "/ca.pem",
      GIT_CONFIG_COUNT: "6",
    },
  );
});

Deno.test("gitInsteadOfEnv routes plain-HTTP hosts to the git-http namespace", () => {
  assert.deepEqual(
    gitInsteadOfEnv(new URL("http://127.0.0.1:9/s/"), ["github.com"], {
      plainHttpHosts: ["127.0.0.1:8080"],
    }),
    {
      GIT_CONFIG_KEY_0: "url.http://127.0.0.1:9/s/git/github.com/.insteadOf",
      GIT_CONFIG_VALUE_0: "https://github.com/",
      GIT_CONFIG_KEY_1: "url.http://127.0.0.1:9/s/git-http/127.0.0.1:8080/.insteadOf",
      GIT_CONFIG_VALUE_1: "http://127.0.0.1:8080/",
      GIT_CONFIG_COUNT: "2",
    },
  );
});

Deno.test("git mirror: with encodeColons the clone directories name host:port as host%3Aport", () => {
  const mirror = new GitMirror({ root: "/cache", encodeColons: true });
  assert.deepEqual(
    mirror.repoDir("127.0.0.1:8080", "o/r", "http"),
    join("/cache", "git-mirrors-http", "127.0.0.1%3A8080", "o", "r.git"),
  );
  assert.deepEqual(
    mirror.repoDir("github.com", "o/r"),
    join("/cache", "git-mirrors", "github.com", "o", "r.git"),
  );
});

Deno.test("git mirror: git-http paths only for listed hosts, with their own keys and clones", async () => {
  const mirror = new GitMirror({
    root: "/cache",
    plainHttpHosts: ["127.0.0.1:8080"],
    encodeColons: false,
  });
  const ctx = { fetch, signal: new AbortController().signal, baseUrl: new URL("http://x/") };
  const path = "git-http/127.0.0.1:8080/o/r.git/info/refs";
  const route = await mirror.route(
    new Request(`http://x/${path}?service=git-upload-pack`),
    path,
    ctx,
  );
  assert.deepEqual(route.key, "git-http/127.0.0.1:8080/o/r.json");
  assert.deepEqual(
    mirror.repoDir("127.0.0.1:8080", "o/r", "http"),
    join("/cache", "git-mirrors-http", "127.0.0.1:8080", "o", "r.git"),
  );
  assert.deepEqual(
    mirror.repoDir("127.0.0.1:8080", "o/r"),
    join("/cache", "git-mirrors", "127.0.0.1:8080", "o", "r.git"),
  );
  const other = "git-http/127.0.0.1:8081/o/r.git/info/refs";
  const e = await assertRejects(
    () => mirror.route(new Request(`http://x/${other}?service=git-upload-pack`), other, ctx),
    HttpError,
  );
  assert.deepEqual((e as HttpError).status, 404);
});

Deno.test("git mirror refuses pushes, dumb HTTP and bad paths", async () => {
  const mirror = new GitMirror({ root: "/nonexistent" });
  const ctx = { fetch, signal: new AbortController().signal, baseUrl: new URL("http://x/") };
  const req = (u: string, method = "GET") => new Request(`http://x/${u}`, { method });
  const bad: [string, string, number][] = [
    ["git/h.example/o/r.git/info/refs?service=git-receive-pack", "GET", 403],
    ["git/h.example/o/r.git/git-receive-pack", "POST", 403],
    ["git/h.example/o/r.git/info/refs", "GET", 400],
    ["git/h.example/o/r.git/HEAD", "GET", 404],
    ["git/h.example/../r.git/info/refs?service=git-upload-pack", "GET", 400],
    ["git/h.example/o/r.git/git-upload-pack", "GET", 405],
  ];
  for (const [u, method, status] of bad) {
    const e = await assertRejects(
      () => mirror.route(req(u, method), u.split("?")[0] ?? "", ctx),
      HttpError,
    );
    assert.deepEqual((e as HttpError).status, status, u);
  }
});

function envFor(extra: Record<string, string>): Record<string, string> {
  return { PATH: Deno.env.get("PATH") ?? "", ...extra };
}

/** A git mirror under `root/cache` that fetches from plain-HTTP upstreams. */
function httpGitMirror(root: string, encodeColons?: boolean): GitMirror {
  return new GitMirror({
    root: join(root, "cache"),
    upstreamUrl: (host, path) => `http://${host}/${path}`,
    ...(encodeColons !== undefined ? { encodeColons } : {}),
  });
}

/** A clean environment in which git reaches `upstreamHost` only through `core`. */
function gitEnvVia(root: string, core: MiniCore, upstreamHost: string): Record<string, string> {
  return envFor({
    HOME: root,
    GIT_CONFIG_NOSYSTEM: "1",
    ...gitInsteadOfEnv(core.baseUrl, [upstreamHost], { schemes: ["http"] }),
  });
}

/** Runs git with only `env`; asserts it succeeded and returns its stdout. */
async function runGit(env: Record<string, string>, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.deepEqual(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test({
  name: "git mirror: git clone through the cache, then again with upstream stopped",
}, async () => {
  const root = await Deno.makeTempDir();
  try {
    const repo = await makeRepo(root);
    const upstream = serveGit(root);
    await using core = new MiniCore([httpGitMirror(root)]);
    const env = gitEnvVia(root, core, upstream.host);
    const clone = async (dest: string, ...args: string[]) => {
      await runGit(env, "clone", "--quiet", ...args, "--", `${upstream.url}repo.git`, dest);
    };
    await clone(join(root, "c1"), "-b", "v1.0.0", "--depth", "1");
    assert.ok((await Deno.readTextFile(join(root, "c1/main.tf"))).includes('"v1"'));
    const upstreamHits = upstream.requests.length;
    assert.ok(upstreamHits > 0, "the cache should have fetched from upstream");
    await upstream.stop();
    await clone(join(root, "c2"));
    assert.deepEqual(await g(join(root, "c2"), "rev-parse", "HEAD"), `${repo.main}\n`);
    await clone(join(root, "c3"), "-b", "feature");
    assert.deepEqual(await g(join(root, "c3"), "rev-parse", "HEAD"), `${repo.feature}\n`);
    assert.deepEqual(core.fills.filter((k) => k.startsWith("git/")).length, 1);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("git mirror: with encodeColons git clones through a host%3Aport clone directory", async () => {
  const root = await Deno.makeTempDir();
  try {
    const repo = await makeRepo(root);
    await using upstream = serveGit(root);
    const mirror = httpGitMirror(root, true);
    await using core = new MiniCore([mirror]);
    const env = gitEnvVia(root, core, upstream.host);
    const dest = join(root, "c1");
    await runGit(env, "clone", "--quiet", "--", `${upstream.url}repo.git`, dest);
    assert.deepEqual(await g(dest, "rev-parse", "HEAD"), `${repo.main}\n`);
    const dir = mirror.repoDir(upstream.host, "repo");
    assert.ok(!dir.slice(root.length).includes(":"), dir);
    assert.ok((await Deno.stat(join(dir, "HEAD"))).isFile);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "git mirror: refreshes on TTL and serves the old clone when upstream is down",
}, async () => {
  const root = await Deno.makeTempDir();
  try {
    const repo = await makeRepo(root);
    const upstream = serveGit(root);
    await using core = new MiniCore([httpGitMirror(root)], { ttlMs: 0 });
    const env = gitEnvVia(root, core, upstream.host);
    const lsRemote = async () =>
      (await runGit(env, "ls-remote", `${upstream.url}repo.git`, "refs/heads/main")).split("\t")[0];
    assert.deepEqual(await lsRemote(), repo.main);
    await writeFiles(repo.work, { "new.tf": "x" });
    await g(repo.work, "add", ".");
    await g(repo.work, "commit", "--quiet", "-m", "new");
    await g(repo.work, "push", "--quiet", repo.bare, "main");
    const newMain = (await g(repo.work, "rev-parse", "HEAD")).trim();
    assert.deepEqual(await lsRemote(), newMain);
    await upstream.stop();
    assert.deepEqual(await lsRemote(), newMain); // refresh fails, old clone served
    const state = JSON.parse(
      new TextDecoder().decode(core.objects.get(`git/${upstream.host}/repo.json`)?.bytes),
    );
    assert.ok(typeof state.staleBecause === "string");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "terraform 1.11 installs git:: and registry modules through the cache, then offline",
}, async () => {
  const terraform = terraformPath();
  if (terraform === undefined) {
    console.log("SKIP: terraform not on PATH");
    return;
  }
  const root = await Deno.makeTempDir();
  try {
    await makeRepo(root);
    const upstream = serveGit(root);
    const registry = startFakeModuleRegistry();
    registry.modules.set(
      "ns/mod/aws",
      new Map([["1.0.0", {
        form: "header" as const,
        location: `git::${upstream.url}repo.git//modules/child?ref=v1.0.0`,
      }]]),
    );
    const git = httpGitMirror(root);
    const modules = new ModuleMirror({ discover: () => Promise.resolve(registry.modulesV1) });
    await using core = new MiniCore([modules, git]);
    const rc = join(root, "terraform.rc");
    await Deno.writeTextFile(
      rc,
      `host "registry.example.test" {\n  services = {\n    "modules.v1" = "${core.baseUrl.href}modules/registry.example.test/"\n  }\n}\n`,
    );
    const env = envFor({
      HOME: root,
      TF_CLI_CONFIG_FILE: rc,
      CHECKPOINT_DISABLE: "1",
      TF_IN_AUTOMATION: "1",
      GIT_CONFIG_NOSYSTEM: "1",
      ...gitInsteadOfEnv(core.baseUrl, [upstream.host], { schemes: ["http"] }),
    });
    const config = `
module "direct" {
  source = "git::${upstream.url}repo.git?ref=v1.0.0"
}
module "shallow" {
  source = "git::${upstream.url}repo.git//modules/child?ref=feature&depth=1"
}
module "reg" {
  source  = "registry.example.test/ns/mod/aws"
  version = "1.0.0"
}
output "direct" { value = module.direct.version }
output "shallow" { value = module.shallow.child }
output "reg" { value = module.reg.child }
`;
    const init = async (dir: string) => {
      await Deno.mkdir(dir);
      await Deno.writeTextFile(join(dir, "main.tf"), config);
      const out = await new Deno.Command(terraform, {
        args: ["init", "-input=false", "-no-color"],
        cwd: dir,
        env,
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.deepEqual(out.code, 0, text);
      return text;
    };
    await init(join(root, "w1"));
    const hasGitDir = await Deno.stat(join(root, "w1/.terraform/modules/direct/.git")).then(
      () => true,
      () => false,
    );
    const regHasGitDir = await Deno.stat(join(root, "w1/.terraform/modules/reg/.git")).then(
      () => true,
      () => false,
    );
    console.log(
      `terraform keeps .git for direct git modules: ${hasGitDir}; for registry modules via _source: ${regHasGitDir}`,
    );
    const modulesJson = await Deno.readTextFile(join(root, "w1/.terraform/modules/modules.json"));
    assert.ok(
      modulesJson.includes(`git::${upstream.url}repo.git?ref=v1.0.0`),
      "terraform records the original source",
    );
    assert.ok(upstream.requests.length > 0);
    assert.ok(core.fills.some((k) => k.startsWith("git/")));
    assert.ok(core.fills.some((k) => k.startsWith("modules/_source/")));
    // Upstream git server and registry gone: the cache serves everything.
    await upstream.stop();
    await registry.stop();
    await init(join(root, "w2"));
    assert.ok(
      (await Deno.readTextFile(join(root, "w2/.terraform/modules/direct/main.tf"))).includes(
        '"v1"',
      ),
    );
    assert.ok(
      (await Deno.readTextFile(join(root, "w2/.terraform/modules/shallow/modules/child/main.tf")))
        .includes("child-v1"),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

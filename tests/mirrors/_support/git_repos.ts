/**
 * Test helpers: real local git repositories and a smart-HTTP git server (git http-backend behind
 * Deno.serve on 127.0.0.1:0).
 *
 * @module
 */

import { join } from "node:path";
import { git } from "../../../src/mirrors/git_fetch.ts";
import { httpBackend } from "../../../src/mirrors/git_mirror.ts";

const ENV = {
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@example.test",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@example.test",
  GIT_AUTHOR_DATE: "2020-01-01T00:00:00Z",
  GIT_COMMITTER_DATE: "2020-01-01T00:00:00Z",
};

/** Runs git in `cwd` with a fixed identity and dates. */
export function g(cwd: string, ...args: string[]): Promise<string> {
  return git(["-c", "init.defaultBranch=main", ...args], { cwd, env: ENV });
}

/** Writes files (relative path → content) under `dir`. */
export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const path = join(dir, rel);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeTextFile(path, content);
  }
}

/** A work repository with history: v1 (tag), main (default), feature branch. */
export interface TestRepo {
  /** Non-bare repository path. */
  work: string;
  /** Bare repository path (served by the HTTP server and via file://). */
  bare: string;
  /** Commit of tag v1.0.0. */
  v1: string;
  /** Commit at main. */
  main: string;
  /** Commit at branch `feature`. */
  feature: string;
}

/** Creates a repository with a tag, a branch and a module in a subdirectory. */
export async function makeRepo(root: string, name = "repo"): Promise<TestRepo> {
  const work = join(root, `${name}-work`);
  await Deno.mkdir(work, { recursive: true });
  await g(work, "init", "--quiet");
  await writeFiles(work, {
    "main.tf": 'output "version" { value = "v1" }\n',
    "modules/child/main.tf": 'output "child" { value = "child-v1" }\n',
  });
  await g(work, "add", ".");
  await g(work, "commit", "--quiet", "-m", "v1");
  await g(work, "tag", "v1.0.0");
  const v1 = (await g(work, "rev-parse", "HEAD")).trim();
  await writeFiles(work, { "main.tf": 'output "version" { value = "v2" }\n' });
  await g(work, "commit", "--quiet", "-am", "v2");
  const main = (await g(work, "rev-parse", "HEAD")).trim();
  await g(work, "checkout", "--quiet", "-b", "feature");
  await writeFiles(work, { "main.tf": 'output "version" { value = "feature" }\n' });
  await g(work, "commit", "--quiet", "-am", "feature");
  const feature = (await g(work, "rev-parse", "HEAD")).trim();
  await g(work, "checkout", "--quiet", "main");
  const bare = join(root, `${name}.git`);
  await g(root, "clone", "--quiet", "--bare", work, bare);
  return { work, bare, v1, main, feature };
}

/** A smart-HTTP git server over a directory of bare repositories. */
export interface GitServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  /** `127.0.0.1:<port>` */
  host: string;
  /** Requests seen (method + path). */
  requests: string[];
  /** Stops the server. */
  stop(): Promise<void>;
}

/** Serves `<projectRoot>/<name>.git` at `http://127.0.0.1:<port>/<name>.git`. */
export function serveGit(projectRoot: string): GitServer {
  const requests: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const url = new URL(req.url);
      requests.push(`${req.method} ${url.pathname}`);
      const m = /^\/(.+?\.git)\/(info\/refs|git-upload-pack)$/.exec(url.pathname);
      if (m === null) return new Response("not found", { status: 404 });
      return await httpBackend(
        req,
        join(projectRoot, m[1] ?? ""),
        m[2] as "info/refs" | "git-upload-pack",
      );
    },
  );
  const host = `127.0.0.1:${server.addr.port}`;
  const stop = () => server.shutdown();
  return { url: `http://${host}/`, host, requests, stop, [Symbol.asyncDispose]: stop };
}

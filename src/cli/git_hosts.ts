/**
 * Which git hosts a configuration's module sources clone from, so `tfcache run` can route those
 * clones through the cache's git mirror.
 *
 * @module
 */

const HOST = /^[a-z0-9][a-z0-9.-]*(:[0-9]{1,5})?$/;

/** A git host a module source clones from, and the scheme it is reached with. */
export interface GitRemoteHost {
  /**
   * `https`, or `http` for a `git::http://…` source written as such (plain-HTTP remotes are
   * mirrored apart from HTTPS ones, and only for hosts the configuration names this way).
   */
  scheme: "https" | "http";
  /** The lower-case host, with its port when one is given. */
  host: string;
}

/**
 * The host and scheme a git module source clones from over HTTP(S), or `undefined` for anything
 * else (SSH remotes, archives, registry addresses, local paths, URLs carrying credentials).
 * HTTPS remotes come from `git::https://…`, `https://….git` and the `github.com/…` and
 * `bitbucket.org/…` shorthands; plain HTTP only from an explicit `git::http://…`.
 *
 * @example
 * ```ts
 * gitRemoteHost("git::https://github.com/org/repo.git?ref=v1"); // { scheme: "https", host: "github.com" }
 * gitRemoteHost("git::http://127.0.0.1:8080/repo.git//sub");   // { scheme: "http", host: "127.0.0.1:8080" }
 * ```
 * @param source A module `source` string as written.
 * @returns The scheme and host, or `undefined`.
 */
export function gitRemoteHost(source: string): GitRemoteHost | undefined {
  let rest = source.trim();
  const forced = rest.startsWith("git::");
  if (forced) rest = rest.slice("git::".length);
  else if (/^(github\.com|bitbucket\.org)\//i.test(rest)) {
    return { scheme: "https", host: rest.slice(0, rest.indexOf("/")).toLowerCase() };
  } else if (!/\.git($|[/?])/.test(rest) || !rest.startsWith("https://")) return undefined;
  let scheme: GitRemoteHost["scheme"];
  if (rest.startsWith("https://")) scheme = "https";
  else if (forced && rest.startsWith("http://")) scheme = "http";
  else return undefined;
  let url: URL;
  try {
    url = new URL(rest.split("//").slice(0, 2).join("//"));
  } catch {
    return undefined;
  }
  if (url.username !== "" || url.password !== "") return undefined;
  const host = url.host.toLowerCase();
  return HOST.test(host) ? { scheme, host } : undefined;
}

/**
 * The host an HTTPS git module source clones from, or `undefined` for anything else (see
 * {@linkcode gitRemoteHost}, which also reports plain-HTTP `git::http://` remotes).
 *
 * @param source A module `source` string as written.
 * @returns The lower-case host (with port), or `undefined`.
 */
export function httpsGitHost(source: string): string | undefined {
  const remote = gitRemoteHost(source);
  return remote?.scheme === "https" ? remote.host : undefined;
}

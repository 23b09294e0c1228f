/**
 * Which git hosts a configuration's module sources clone from, so `tfcache run` can route those
 * clones through the cache's git mirror.
 *
 * @module
 */

const HOST = /^[a-z0-9][a-z0-9.-]*(:[0-9]{1,5})?$/;

/**
 * The host an HTTPS git module source clones from, or `undefined` for anything else (SSH
 * remotes, archives, registry addresses, local paths). Only HTTPS remotes are routed: they use
 * the same credentials from the cache's git process as from terraform's.
 *
 * @param source A module `source` string as written.
 * @returns The lower-case host (with port), or `undefined`.
 */
export function httpsGitHost(source: string): string | undefined {
  let rest = source.trim();
  if (rest.startsWith("git::")) rest = rest.slice("git::".length);
  else if (/^(github\.com|bitbucket\.org)\//i.test(rest)) {
    return rest.slice(0, rest.indexOf("/")).toLowerCase();
  } else if (!/\.git($|[/?])/.test(rest) || !rest.startsWith("https://")) return undefined;
  if (!rest.startsWith("https://")) return undefined;
  let url: URL;
  try {
    url = new URL(rest.split("//").slice(0, 2).join("//"));
  } catch {
    return undefined;
  }
  if (url.username !== "" || url.password !== "") return undefined;
  const host = url.host.toLowerCase();
  return HOST.test(host) ? host : undefined;
}

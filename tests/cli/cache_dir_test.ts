import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { resolveCacheDir } from "../../src/cli/cache_dir.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("resolveCacheDir: flag, then TFCACHE_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache", () => {
  const all = { TFCACHE_CACHE_DIR: "/t", XDG_CACHE_HOME: "/x", HOME: "/h" };
  assert.equal(resolveCacheDir("rel/dir", env(all), "linux"), resolve("rel/dir"));
  assert.equal(resolveCacheDir(undefined, env(all), "linux"), "/t");
  assert.equal(
    resolveCacheDir(undefined, env({ XDG_CACHE_HOME: "/x", HOME: "/h" }), "linux"),
    "/x/tfcache",
  );
  assert.equal(
    resolveCacheDir(undefined, env({ HOME: "/h" }), "darwin"),
    join("/h", ".cache", "tfcache"),
  );
  assert.equal(
    resolveCacheDir(undefined, env({ LOCALAPPDATA: "C:\\L", HOME: "/h" }), "windows"),
    join("C:\\L", "tfcache"),
  );
});

Deno.test("resolveCacheDir explains what to do when there is no home directory", () => {
  assert.throws(
    () => resolveCacheDir(undefined, env({}), "linux"),
    /pass --cache-dir or set TFCACHE_CACHE_DIR/,
  );
});

/**
 * The mirror used by `bench/proxy_bench.ts`: maps bench paths onto the loopback upstream.
 *
 * - `big/<name>.bin` → artifact key `bench/<name>.bin`, fetched from `<upstream>big.bin`;
 * - `meta/<name>.json` → metadata key `bench/<name>.json`, fetched from `<upstream>meta.json`.
 *
 * Distinct names give distinct cache keys for the same upstream body, so each cold-fill
 * repetition really misses.
 *
 * @module
 */

import { HttpError } from "../../src/proxy/errors.ts";
import type { Mirror, Route } from "../../src/proxy/route.ts";

const BIG = /^big\/([a-z0-9-]+)\.bin$/;
const META = /^meta\/([a-z0-9-]+)\.json$/;

/**
 * Creates the bench mirror.
 *
 * @param upstreamUrl Base URL of the upstream, with a trailing slash.
 * @returns A mirror that claims `big/` and `meta/` paths.
 * @example
 * ```ts
 * import { benchMirror } from "./bench_mirror.ts";
 *
 * const mirror = benchMirror("http://127.0.0.1:41234/");
 * mirror.handles("big/fill-0.bin"); // true
 * ```
 */
export function benchMirror(upstreamUrl: string): Mirror {
  return {
    name: "bench",
    handles: (path) => BIG.test(path) || META.test(path),
    route(_request, path): Promise<Route> {
      const big = BIG.exec(path);
      if (big) {
        return Promise.resolve({
          key: `bench/${big[1]}.bin`,
          kind: "artifact",
          upstream: { url: new URL("big.bin", upstreamUrl).href },
        });
      }
      const meta = META.exec(path);
      if (meta) {
        return Promise.resolve({
          key: `bench/${meta[1]}.json`,
          kind: "metadata",
          upstream: { url: new URL("meta.json", upstreamUrl).href },
        });
      }
      return Promise.reject(new HttpError(404, `No bench route for "${path}"`));
    },
  };
}

/**
 * The tfcache version, read from deno.json so there is one source of truth.
 *
 * @module
 */

import denoJson from "../../deno.json" with { type: "json" };

/** The tfcache version string, e.g. `0.1.0`. */
export const VERSION: string = denoJson.version;

/** The User-Agent tfcache sends when it has no inbound request to copy one from. */
export const USER_AGENT = `tfcache/${VERSION}`;

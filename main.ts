#!/usr/bin/env -S deno run --allow-all
/**
 * The `tfcache` command line: makes Terraform and OpenTofu stop re-downloading providers and
 * modules. See `tfcache --help`.
 *
 * @module
 */

import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}

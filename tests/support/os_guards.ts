/**
 * Conditions for `ignore:` on tests that cannot run on every CI operating system. Each one is
 * `false` on Linux, so the Linux run never skips anything because of them.
 *
 * @module
 */

/**
 * Windows refuses `:` in file names, and the file store, the provider cache layout and the git
 * mirrors use `host:port` verbatim as a directory name. Every fake upstream in the tests listens
 * on `127.0.0.1:<port>`, so tests that store something from one cannot run there until those
 * paths are encoded.
 */
export const COLON_IN_FILE_NAMES_UNSUPPORTED: boolean = Deno.build.os === "windows";

/** Creating symlinks on Windows needs a privilege (or developer mode) and a `type` when dangling. */
export const SYMLINKS_UNSUPPORTED: boolean = Deno.build.os === "windows";

/** Windows has no Unix permission bits: `FileInfo.mode` is `null` and `chmod` does nothing. */
export const NO_UNIX_MODES: boolean = Deno.build.os === "windows";

/** Windows cannot execute `#!/bin/sh` scripts as commands. */
export const NO_SHEBANG_SCRIPTS: boolean = Deno.build.os === "windows";

/**
 * Conditions for `ignore:` on tests that cannot run on every CI operating system. Each one is
 * `false` on Linux, so the Linux run never skips anything because of them.
 *
 * @module
 */

/**
 * The provider directory layout `HOST/NS/TYPE/VERSION/OS_ARCH` (terraform's `.terraform/providers`,
 * tfcache's unpacked provider cache `providercache.Dir`, `tfcache providers mirror` output) names
 * the host in display form, `127.0.0.1:<port>` for the fake registries. Terraform writes and reads
 * that layout verbatim (`Hostname.ForDisplay()`), so it cannot hold a host with a port on Windows
 * and tfcache keeps it identical: tests that install or mirror providers from a fake registry
 * cannot run there. (The file store and the git mirror clones encode `host:port` as
 * `host%3Aport` on Windows, `FileStore.encodeColons`, so tests that only store objects or mirror
 * git repositories from such a host need no guard.)
 */
export const COLON_IN_PROVIDER_LAYOUT_UNSUPPORTED: boolean = Deno.build.os === "windows";

/** Windows has no `true` command on PATH (a test runs `tfcache run -- true`). */
export const NO_TRUE_COMMAND: boolean = Deno.build.os === "windows";

/** Creating symlinks on Windows needs a privilege (or developer mode) and a `type` when dangling. */
export const SYMLINKS_UNSUPPORTED: boolean = Deno.build.os === "windows";

/** Windows has no Unix permission bits: `FileInfo.mode` is `null` and `chmod` does nothing. */
export const NO_UNIX_MODES: boolean = Deno.build.os === "windows";

/** Windows cannot execute `#!/bin/sh` scripts as commands. */
export const NO_SHEBANG_SCRIPTS: boolean = Deno.build.os === "windows";

/**
 * Target platforms (`os_arch`, e.g. `linux_amd64`) as Terraform names them.
 *
 * @module
 */

/** A provider target platform using Go's GOOS/GOARCH names. */
export interface Platform {
  /** Operating system, e.g. `linux`, `darwin`, `windows`. */
  readonly os: string;
  /** Architecture, e.g. `amd64`, `arm64`. */
  readonly arch: string;
}

/** A platform string that is not `os_arch`. */
export class InvalidPlatformError extends TypeError {
  /** The rejected input. */
  readonly input: string;

  /**
   * @param input The rejected platform string.
   * @param reason Why it was rejected (Terraform's wording).
   */
  constructor(input: string, reason: string) {
    super(`Invalid platform "${input}": ${reason}`);
    this.name = "InvalidPlatformError";
    this.input = input;
  }
}

/**
 * Parse `os_arch`. Like Terraform, this does not lower-case and does not reject empty parts.
 *
 * @param str The platform string, e.g. `linux_amd64`.
 * @returns The platform.
 * @throws {InvalidPlatformError} when it is not two words separated by an underscore or
 *   a part contains whitespace.
 * @example
 * ```ts
 * parsePlatform("darwin_arm64"); // { os: "darwin", arch: "arm64" }
 * ```
 */
export function parsePlatform(str: string): Platform {
  const parts = str.split("_");
  if (parts.length !== 2) {
    throw new InvalidPlatformError(str, "must be two words separated by an underscore");
  }
  const [os, arch] = parts as [string, string];
  if (/\s/u.test(os)) throw new InvalidPlatformError(str, "OS portion must not contain whitespace");
  if (/\s/u.test(arch)) {
    throw new InvalidPlatformError(str, "architecture portion must not contain whitespace");
  }
  return { os, arch };
}

/**
 * @param p The platform.
 * @returns `os_arch`.
 */
export function platformString(p: Platform): string {
  return `${p.os}_${p.arch}`;
}

/**
 * @param a First platform.
 * @param b Second platform.
 * @returns Whether OS and architecture are equal.
 */
export function platformEquals(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.arch === b.arch;
}

/**
 * Order by OS, then architecture, as plain strings.
 *
 * @param a First platform.
 * @param b Second platform.
 * @returns Negative, zero or positive.
 */
export function comparePlatforms(a: Platform, b: Platform): number {
  if (a.os !== b.os) return a.os < b.os ? -1 : 1;
  if (a.arch !== b.arch) return a.arch < b.arch ? -1 : 1;
  return 0;
}

const _ARCH: Readonly<Record<string, string>> = {
  x86_64: "amd64",
  aarch64: "arm64",
};

/**
 * Map a Deno `os`/`arch` pair to Terraform's platform names (`x86_64` → `amd64`,
 * `aarch64` → `arm64`; OS names pass through: `linux`, `darwin`, `windows`, `freebsd`, …).
 *
 * @param build Something shaped like `Deno.build`.
 * @returns The Terraform platform.
 */
export function platformFromDenoBuild(build: { os: string; arch: string }): Platform {
  return { os: build.os, arch: _ARCH[build.arch] ?? build.arch };
}

/**
 * @returns The platform this process runs on, in Terraform's naming.
 */
export function currentPlatform(): Platform {
  return platformFromDenoBuild(Deno.build);
}

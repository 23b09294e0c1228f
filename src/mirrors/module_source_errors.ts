/**
 * Typed errors raised while parsing, fetching, extracting and packing module sources.
 *
 * @module
 */

/** A go-getter source string cannot be parsed, or names a getter the cache cannot fetch. */
export class ModuleSourceError extends TypeError {
  /** The offending source string (credentials redacted). */
  readonly source: string;

  /**
   * @param source The source string.
   * @param reason Why it was refused.
   */
  constructor(source: string, reason: string) {
    const shown = redactSource(source);
    super(`Cannot use module source "${shown}": ${reason}`);
    this.name = "ModuleSourceError";
    this.source = shown;
  }
}

/** Fetching a module source (git or HTTP archive) failed; nothing was left behind. */
export class ModuleFetchError extends Error {
  /** The source string (credentials redacted). */
  readonly source: string;

  /**
   * @param source The source string.
   * @param message What went wrong.
   * @param options The error `cause`.
   */
  constructor(source: string, message: string, options: { cause?: unknown } = {}) {
    const shown = redactSource(source);
    super(`Cannot fetch module source "${shown}": ${message}`, { cause: options.cause });
    this.name = "ModuleFetchError";
    this.source = shown;
  }
}

/** An archive or directory tree would escape its target or break a size/count limit. */
export class UnsafeArchiveError extends Error {
  /** The entry that was refused (relative path as found). */
  readonly entry: string;

  /**
   * @param entry The offending entry name.
   * @param reason Why it was refused.
   */
  constructor(entry: string, reason: string) {
    const shown = entry.length > 200 ? `${entry.slice(0, 200)}…` : entry;
    super(`Cannot accept archive entry "${shown}": ${reason}`);
    this.name = "UnsafeArchiveError";
    this.entry = shown;
  }
}

/** Replaces `user:password@` in URLs and `sshkey=` values with `***`, for messages and logs. */
export function redactSource(source: string): string {
  return source
    .replace(/(\/\/)([^/@?#\s]+)@/g, (_m, slashes: string, userinfo: string) => {
      const user = userinfo.split(":")[0] ?? "";
      return userinfo.includes(":") ? `${slashes}${user}:***@` : `${slashes}${userinfo}@`;
    })
    .replace(/([?&]sshkey=)[^&]*/gi, "$1***");
}

/**
 * Errors the CLI turns into exit codes.
 *
 * @module
 */

/** The command line is wrong: unknown flag, missing argument. Exit code 2. */
export class UsageError extends TypeError {
  /** Sub-command whose usage to point at, if any. */
  readonly command: string | undefined;

  /**
   * @param message What is wrong with the command line.
   * @param command The sub-command, so the message can point at its `--help`.
   */
  constructor(message: string, command?: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

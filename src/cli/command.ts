/**
 * The shape every `tfcache` sub-command file exports.
 *
 * @module
 */

/** A sub-command of the `tfcache` CLI. */
export interface Command {
  /** Name typed on the command line, e.g. `run`. */
  readonly name: string;
  /** One line for `tfcache --help`. */
  readonly summary: string;
  /** Full help text for `tfcache <name> --help`. */
  readonly help: string;
  /** Runs the command with the arguments after its name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}

/**
 * Runs the wrapped command (`tfcache run -- COMMAND`) with inherited stdio, forwarding termination
 * signals, and maps its end to an exit code.
 *
 * @module
 */

/** Exit code conventions for a child killed by a signal: 128 + the signal number. */
const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGTERM: 15,
};

/** The wrapped command could not be started. */
export class CommandNotFoundError extends Error {
  /**
   * @param command The program name.
   * @param options The error `cause`.
   */
  constructor(command: string, options: { cause?: unknown } = {}) {
    super(`Cannot run "${command}": no such program on PATH`, options);
    this.name = "CommandNotFoundError";
  }
}

/** Options for {@linkcode runChild}. */
export interface RunChildOptions {
  /** Program and arguments. */
  command: string[];
  /** Full environment of the child. */
  env: Record<string, string>;
  /** Working directory (defaults to ours). */
  cwd?: string;
}

/**
 * Spawns the command with inherited stdio and waits for it. SIGTERM (and SIGHUP) are forwarded.
 * SIGINT is forwarded only when stdin is not a terminal: on a terminal, Ctrl-C already reaches
 * the child through the shared foreground process group, and a second interrupt would make
 * terraform abort without cleaning up.
 *
 * @returns The child's exit code (128 + signal number when a signal killed it).
 * @throws {CommandNotFoundError} When the program does not exist.
 */
export async function runChild(options: RunChildOptions): Promise<number> {
  const [program, ...args] = options.command;
  if (program === undefined) throw new TypeError("Cannot run an empty command");
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      env: options.env,
      clearEnv: true,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CommandNotFoundError(program, { cause: error });
    }
    throw error;
  }
  const forwarded: Deno.Signal[] = Deno.build.os === "windows"
    ? []
    : ["SIGTERM", "SIGHUP", ...(Deno.stdin.isTerminal() ? [] : ["SIGINT" as const])];
  const listeners = forwarded.map((signal) => {
    const listener = () => {
      try {
        child.kill(signal);
      } catch {
        // The child already exited.
      }
    };
    Deno.addSignalListener(signal, listener);
    return { signal, listener };
  });
  // On a terminal, keep tfcache alive on Ctrl-C so it can shut down cleanly after the child.
  const ignoreInterrupt = () => {};
  const ignoresInterrupt = !forwarded.includes("SIGINT");
  if (ignoresInterrupt) Deno.addSignalListener("SIGINT", ignoreInterrupt);
  try {
    const status = await child.status;
    if (status.signal !== null) return 128 + (SIGNAL_NUMBERS[status.signal] ?? 0);
    return status.code;
  } finally {
    for (const { signal, listener } of listeners) Deno.removeSignalListener(signal, listener);
    if (ignoresInterrupt) Deno.removeSignalListener("SIGINT", ignoreInterrupt);
  }
}

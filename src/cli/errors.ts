/**
 * Exit codes: 0 success, 1 the operation failed, 2 the command line or the
 * environment is wrong (a bad flag, a missing KEYWARD_TOKEN, an input the
 * gateway rejected as invalid).
 */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure the CLI explains in one sentence. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
    this.name = "UsageError";
  }
}

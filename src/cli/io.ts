import { coloursEnabled } from "./format/color.js";
import { terminalText } from "./format/terminal-text.js";

/** Where the CLI writes and what it reads from its environment; a seam for tests. */
export interface CliIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Record<string, string | undefined>;
  /** Whether stdout is a terminal: tables get colour only then. */
  isTTY: boolean;
}

export function processIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    isTTY: process.stdout.isTTY === true,
  };
}

/** Prints a value for scripts: indented JSON and a newline, exactly as the gateway answered it. */
export function printJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Every line for people goes through here, so no command can print a caller's control characters. */
export function printLine(io: CliIO, line = ""): void {
  io.stdout.write(`${terminalText(line, coloursEnabled(io.isTTY, io.env))}\n`);
}

/** A note for people on stderr (a hint, an error), made safe the same way. */
export function printNote(io: CliIO, line: string): void {
  io.stderr.write(`${terminalText(line, false)}\n`);
}

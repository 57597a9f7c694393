import type { CliIO } from "../io.js";
import { printLine } from "../io.js";
import type { Palette } from "./color.js";

/** The one place a token is printed: once, with the warning that it will not be shown again. */
export function printToken(io: CliIO, c: Palette, token: string): void {
  printLine(io);
  printLine(io, `  ${c.bold(token)}`);
  printLine(io);
  printLine(io, "Copy this token now: it will not be shown again.");
}

/** ANSI colours, only when stdout is a terminal and NO_COLOR is not set (https://no-color.org). */
export interface Palette {
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  magenta(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;

const COLOURS: Palette = {
  green: wrap(32, 39),
  yellow: wrap(33, 39),
  red: wrap(31, 39),
  magenta: wrap(35, 39),
  dim: wrap(2, 22),
  bold: wrap(1, 22),
};

const identity = (s: string) => s;
const PLAIN: Palette = {
  green: identity,
  yellow: identity,
  red: identity,
  magenta: identity,
  dim: identity,
  bold: identity,
};

/** Colours on a terminal, unless NO_COLOR is set to anything. */
export function coloursEnabled(isTTY: boolean, env: Record<string, string | undefined>): boolean {
  return isTTY && (env.NO_COLOR === undefined || env.NO_COLOR === "");
}

export function createPalette(isTTY: boolean, env: Record<string, string | undefined>): Palette {
  return coloursEnabled(isTTY, env) ? COLOURS : PLAIN;
}

/** The visible width of a string that may hold colour codes. */
export function visibleWidth(s: string): number {
  return [...stripColour(s)].length;
}

export function stripColour(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC.
  return s.replace(/\u001b\[[0-9;]*m/g, "");
}

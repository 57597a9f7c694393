/**
 * Text from callers and other admins (key names, paths, user agents,
 * reasons) is printed with its control characters made visible: a name
 * holding `ESC[8m` must not hide what follows, and a user agent holding an
 * OSC sequence must not retitle the terminal or write the clipboard
 * (`ESC]52;c;…`). C0 and C1 controls, DEL and the bidirectional overrides
 * are shown as `\x1b`, `\x7f`, `\u{202e}`; tabs and line breaks stay.
 * The only escape sequences that pass are the CLI's own colours, and only
 * when colours are on: they can colour text, never hide it or move the cursor.
 * `--json` output is not passed through here: it stays exact.
 */

// C0 (but tab and line feed), DEL, C1, and the bidi embeddings, overrides and isolates.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this finds.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/** Exactly the SGR codes of format/color.ts: green, yellow, red, magenta, default colour, dim, bold, normal. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC.
const OWN_COLOUR = /\u001b\[(?:3[1235]|39|2|22|1)m/y;

function visible(char: string): string {
  const code = char.codePointAt(0) as number;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
}

/** `text` safe to write to a terminal; with `colours`, the CLI's own colour codes are kept. */
export function terminalText(text: string, colours: boolean): string {
  return text.replace(CONTROL, (char, offset: number) => {
    if (colours && char === "\u001b") {
      OWN_COLOUR.lastIndex = offset;
      if (OWN_COLOUR.test(text)) return char;
    }
    return visible(char);
  });
}

/** One table cell or field value on one line: line breaks in data are shown, not followed. */
export function cellText(text: string): string {
  return text.replace(/[\r\n]/g, (char) => (char === "\n" ? "\\n" : "\\r"));
}

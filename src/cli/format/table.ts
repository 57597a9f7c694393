import { visibleWidth } from "./color.js";
import { cellText } from "./terminal-text.js";

/**
 * An aligned, borderless table (as kubectl and gh print them): a header row
 * in capitals, columns separated by two spaces, the last column unpadded.
 */
export function renderTable(headers: string[], data: string[][]): string {
  const rows = data.map((row) => row.map(cellText));
  const widths = headers.map((h, i) => Math.max(visibleWidth(h), ...rows.map((r) => visibleWidth(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + " ".repeat((widths[i] as number) - visibleWidth(cell))))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** Label: value lines, labels aligned. */
export function renderFields(fields: [string, string][]): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${label.padEnd(width)}  ${cellText(value)}`).join("\n");
}

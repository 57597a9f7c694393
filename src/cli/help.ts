import type { Command } from "commander";

/**
 * A synopsis of every leaf command and all its flags, for `keyward --help`,
 * so that one page shows everything the CLI takes.
 */
export function synopsis(program: Command, width = 80): string {
  const lines: string[] = ["", "Every command and its flags:"];
  const visit = (command: Command, prefix: string) => {
    const leaves = command.commands.filter((c) => c.name() !== "help");
    if (leaves.length > 0) {
      for (const sub of leaves) visit(sub, `${prefix} ${sub.name()}`);
      return;
    }
    const words = [
      prefix,
      ...command.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`)),
      ...command.options.map((o) => (o.mandatory ? o.flags : `[${o.flags}]`)),
    ];
    lines.push(...wrap(words, width, "  ", "      "));
  };
  visit(program, program.name());
  return lines.join("\n");
}

function wrap(words: string[], width: number, first: string, rest: string): string[] {
  const out: string[] = [];
  let line = first;
  for (const word of words) {
    const sep = line === first || line === rest ? "" : " ";
    if (line.length + sep.length + word.length > width && line.trim() !== "") {
      out.push(line);
      line = rest + word;
    } else {
      line += sep + word;
    }
  }
  if (line.trim() !== "") out.push(line);
  return out;
}

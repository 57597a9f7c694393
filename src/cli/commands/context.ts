import type { Command } from "commander";
import { Option } from "commander";
import { type ClientSettings, clientSettings, createGatewayClient, type GatewayClient } from "../client.js";
import { createPalette, type Palette } from "../format/color.js";
import type { CliIO } from "../io.js";
import { wordParser } from "../parse.js";

/** What every command gets: its output, colours, and the gateway client (made on first use). */
export interface CommandContext {
  io: CliIO;
  palette: Palette;
  /** Throws a UsageError when KEYWARD_TOKEN is missing. */
  gateway(): GatewayClient;
  /** The gateway URL in use, once a command asked for the client (for error messages). */
  gatewayUrl(): string | undefined;
  /** KEYWARD_URL and KEYWARD_TOKEN; throws a UsageError when the token is missing. */
  settings(): ClientSettings;
}

export function createCommandContext(io: CliIO): CommandContext {
  let settings: ClientSettings | undefined;
  let client: GatewayClient | undefined;
  const resolved = () => {
    settings ??= clientSettings(io.env);
    return settings;
  };
  return {
    io,
    palette: createPalette(io.isTTY, io.env),
    gateway() {
      client ??= createGatewayClient(resolved());
      return client;
    },
    gatewayUrl: () => settings?.url,
    settings: resolved,
  };
}

/** Every command that prints something takes --json. */
export function withJson(command: Command): Command {
  return command.option("--json", "print machine-readable JSON instead of a table");
}

/** An option taking one word of a list, case-insensitive, listed in its help (see wordParser). */
export function wordOption<W extends string>(
  flags: string,
  description: string,
  words: readonly W[],
  aliases?: Readonly<Record<string, W>>,
): Option {
  return new Option(flags, `${description} (one of: ${words.join(", ")})`).argParser(wordParser(words, aliases));
}

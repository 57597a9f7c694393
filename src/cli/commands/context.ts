import type { Command } from "commander";
import { type ClientSettings, clientSettings, createGatewayClient, type GatewayClient } from "../client.js";
import { createPalette, type Palette } from "../format/color.js";
import type { CliIO } from "../io.js";

/** What every command gets: its output, colours, and the gateway client (made on first use). */
export interface CommandContext {
  io: CliIO;
  palette: Palette;
  /** Throws a UsageError when KEYWARD_TOKEN is missing. */
  gateway(): GatewayClient;
  /** The gateway URL in use, once a command asked for the client (for error messages). */
  gatewayUrl(): string | undefined;
}

export function createCommandContext(io: CliIO): CommandContext {
  let settings: ClientSettings | undefined;
  let client: GatewayClient | undefined;
  return {
    io,
    palette: createPalette(io.isTTY, io.env),
    gateway() {
      settings ??= clientSettings(io.env);
      client ??= createGatewayClient(settings);
      return client;
    },
    gatewayUrl: () => settings?.url,
  };
}

/** Every command that prints something takes --json. */
export function withJson(command: Command): Command {
  return command.option("--json", "print machine-readable JSON instead of a table");
}

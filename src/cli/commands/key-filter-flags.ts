import type { Command } from "commander";
import { KEY_STATUS_WORDS, PERMISSION_WORDS } from "../../shared/contract/words.js";
import { wordOption } from "./context.js";

/** The flags that pick keys, as `keys list` and `exports create --resource api_keys` take them. */
export interface KeyFilterFlags {
  status?: (typeof KEY_STATUS_WORDS)[number];
  permission?: (typeof PERMISSION_WORDS)[number];
  subject?: string;
  domain?: string;
  name?: string;
}

/** Adds the KeyFilterFlags to `command`; `scope` starts each help line (e.g. "api_keys: "). */
export function withKeyFilterOptions(command: Command, scope = ""): Command {
  return command
    .addOption(wordOption("--status <status>", `${scope}only keys with this status`, KEY_STATUS_WORDS))
    .addOption(wordOption("--permission <permission>", `${scope}only keys with this permission`, PERMISSION_WORDS))
    .option("--subject <id>", `${scope}only keys of this owner`)
    .option("--domain <id>", `${scope}only keys restricted to this domain`)
    .option("--name <text>", `${scope}only keys whose name contains this (case-insensitive)`);
}

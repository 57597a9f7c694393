import type { Command } from "commander";
import { printJson, printLine } from "../io.js";
import { type CommandContext, withJson } from "./context.js";

/** `keyward me`: who KEYWARD_TOKEN signs you in as. */
export function registerMe(program: Command, ctx: CommandContext): void {
  withJson(program.command("me").description("show who KEYWARD_TOKEN signs you in as, and your role")).action(
    async (flags: { json?: boolean }) => {
      const me = await ctx.gateway().me.query();
      if (flags.json) return printJson(ctx.io, me);
      printLine(ctx.io, `${me.email} (${me.role}), signed in with key "${me.keyName}" (${me.keyId}).`);
    },
  );
}

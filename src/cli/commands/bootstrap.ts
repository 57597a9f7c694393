import type { Command } from "commander";
import { type CommandContext, withJson } from "./context.js";

/**
 * `keyward bootstrap --email ops@example.com`: the first admin key. There is
 * no admin to sign in with yet, so this talks to the key service directly
 * with the service credential (KEYWARD_SERVICE_TOKEN or <data dir>/service-token).
 */
export function registerBootstrap(program: Command, ctx: CommandContext): void {
  withJson(
    program
      .command("bootstrap")
      .description("create the first admin key and print it once (talks to the key service directly)")
      .requiredOption("--email <email>", "the admin's email, recorded in the key's claims and the audit log")
      .option("--force", "create another admin key even though one exists (recorded in its description)"),
  ).action(async (flags: { email: string; force?: boolean; json?: boolean }) => {
    // Loaded on demand: the config schema, protobuf and Connect are not needed by other commands.
    const { bootstrapAdmin } = await import("../bootstrap-admin.js");
    await bootstrapAdmin(ctx, flags);
  });
}

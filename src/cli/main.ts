import { Command } from "commander";
import { registerAudit } from "./commands/audit.js";
import { registerBootstrap } from "./commands/bootstrap.js";
import { createCommandContext } from "./commands/context.js";
import { registerExports } from "./commands/exports.js";
import { registerKeys } from "./commands/keys.js";
import { registerMe } from "./commands/me.js";
import { registerProcesses } from "./commands/process.js";
import { registerWebhooks } from "./commands/webhooks.js";
import { EXIT_OK } from "./errors.js";
import { synopsis } from "./help.js";
import { type CliIO, processIO } from "./io.js";
import { reportError } from "./report-error.js";

const ENVIRONMENT_HELP = `
Environment:
  KEYWARD_URL     the gateway (default http://127.0.0.1:8787)
  KEYWARD_TOKEN   your admin or member key (keyward bootstrap creates the first admin key)
  NO_COLOR        set to print tables without colour
  The start, service, gateway, workers and bootstrap commands read the server's
  variables (KEYWARD_DATA_DIR, KEYWARD_SERVICE_URL, ...; see the README).

Exit codes: 0 success, 1 failure, 2 bad usage or input.`;

/** The command tree. Settings made before .command() are inherited by every subcommand. */
export function buildProgram(io: CliIO): { program: Command; gatewayUrl(): string | undefined } {
  const ctx = createCommandContext(io);
  const program = new Command("keyward")
    .description("Keyward: issue, verify and manage API keys")
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .addHelpText("after", ENVIRONMENT_HELP);
  registerKeys(program, ctx);
  registerMe(program, ctx);
  registerAudit(program, ctx);
  registerExports(program, ctx);
  registerWebhooks(program, ctx);
  registerBootstrap(program, ctx);
  registerProcesses(program, ctx);
  // Only on the top-level help: a subcommand's own help lists its flags already.
  program.addHelpText("afterAll", (context) => (context.command === program ? synopsis(program) : ""));
  return { program, gatewayUrl: ctx.gatewayUrl };
}

/**
 * The keyward command: `argv` without node and the script
 * (process.argv.slice(2)). Resolves to the exit code; never calls process.exit.
 */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const { program, gatewayUrl } = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io, gatewayUrl());
  }
}

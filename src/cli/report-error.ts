import { TRPCClientError } from "@trpc/client";
import { CommanderError } from "commander";
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./errors.js";
import { type CliIO, printNote } from "./io.js";

/** Gateway error codes the person can act on differently: what to check. */
const HINTS: Record<string, string> = {
  UNAUTHORIZED: "check KEYWARD_TOKEN",
  FORBIDDEN: "ask an admin",
};

/**
 * Prints one sentence for any failure and returns the exit code. Commander
 * has already printed its own usage errors ("error: unknown option ...").
 */
export function reportError(error: unknown, io: CliIO, gatewayUrl?: string): number {
  if (error instanceof CommanderError) {
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return EXIT_OK;
    return EXIT_USAGE;
  }
  const { message, exitCode } = describe(error, gatewayUrl);
  printNote(io, `keyward: ${message}`);
  return exitCode;
}

function describe(error: unknown, gatewayUrl: string | undefined): { message: string; exitCode: number } {
  if (error instanceof CliError) return { message: sentence(error.message), exitCode: error.exitCode };
  if (error instanceof TRPCClientError) {
    const data = error.data as
      | { code?: string; httpStatus?: number; issues?: { field: string; message: string }[] | null }
      | undefined;
    if (!data?.code) return { message: sentence(unreachable(error, gatewayUrl)), exitCode: EXIT_FAILURE };
    const hint = HINTS[data.code];
    const said = data.issues?.length ? data.issues.map((i) => `${flagFor(i.field)}: ${i.message}`).join("; ") : null;
    const text = `${said ?? error.message}${hint ? ` (${hint})` : ""}`;
    return { message: sentence(text), exitCode: data.code === "BAD_REQUEST" ? EXIT_USAGE : EXIT_FAILURE };
  }
  if (error instanceof Error) return { message: sentence(error.message), exitCode: EXIT_FAILURE };
  return { message: sentence(String(error)), exitCode: EXIT_FAILURE };
}

/**
 * The flag a person typed for a field the gateway names: `ratelimits[0].limit`
 * is `--ratelimit`. A field no flag sets keeps its own name.
 */
const FIELD_FLAGS: Record<string, string> = {
  name: "--name",
  description: "--description",
  permission: "--permission",
  domainId: "--domain",
  subject: "--subject",
  scopes: "--scope",
  claims: "--claims",
  expiresInSeconds: "--expires-in",
  expireTime: "--expires-in",
  allowedCidrs: "--cidr",
  ratelimits: "--ratelimit",
  remaining: "--credits",
  refill: "--refill",
  gracePeriodSeconds: "--grace",
  reason: "--reason",
  pageSize: "--limit",
  pageToken: "--page-token",
  nameContains: "--name",
  keyId: "--key",
  resource: "--resource",
  status: "--status",
  code: "--code",
  from: "--from",
  to: "--to",
  actor: "--actor",
  action: "--action",
};

function flagFor(field: string): string {
  const path = field.startsWith("filters.") ? field.slice("filters.".length) : field;
  const head = /^[A-Za-z]+/.exec(path)?.[0] ?? path;
  return FIELD_FLAGS[head] ?? field;
}

/** A transport failure: no tRPC answer at all. */
function unreachable(error: TRPCClientError<never>, gatewayUrl: string | undefined): string {
  const where = gatewayUrl ? ` at ${gatewayUrl}` : "";
  let cause: unknown = error.cause;
  while (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === "ECONNREFUSED")
      return `cannot reach the gateway${where}: connection refused (is it running? check KEYWARD_URL)`;
    if (code === "ENOTFOUND") return `cannot reach the gateway${where}: unknown host (check KEYWARD_URL)`;
    if (cause.name === "TimeoutError") return `the gateway${where} did not answer in time`;
    cause = cause.cause;
  }
  return `the gateway${where} gave no usable answer: ${error.message}`;
}

/** One sentence: starts as written, ends with a full stop. */
function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

import { existsSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Config } from "../config.js";
import { KeyStatus } from "../gen/keyward/v1/key_pb.js";
import { keyJson, required } from "../shared/contract/json.js";
import { ADMIN_SCOPE } from "../shared/contract/scopes.js";
import { asActor, createServiceClient, type KeyServiceClient } from "../shared/contract/service-client.js";
import { resolveServiceToken } from "../shared/service-token.js";
import type { CommandContext } from "./commands/context.js";
import { CliError, UsageError } from "./errors.js";
import { printToken } from "./format/token.js";
import { printJson, printLine } from "./io.js";
import { loadServerConfig } from "./load-config.js";

/** The actor the service records as `key.bootstrap` in the audit log. */
const BOOTSTRAP_ACTOR = "bootstrap";

interface BootstrapFlags {
  email: string;
  force?: boolean;
  json?: boolean;
}

/**
 * The first admin key. There is no admin to sign in with yet, so this talks
 * to the key service directly with the service credential
 * (KEYWARD_SERVICE_TOKEN or <data dir>/service-token), as actor "bootstrap".
 */
export async function bootstrapAdmin(ctx: CommandContext, flags: BootstrapFlags): Promise<void> {
  const email = flags.email.trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254) {
    throw new UsageError(`--email must be an email address, not "${flags.email}"`);
  }
  const config = await loadServerConfig(ctx.io.env);
  const service = createServiceClient({ baseUrl: config.KEYWARD_SERVICE_URL, serviceToken: serviceToken(config) });
  try {
    const existing = await countAdminKeys(service.client);
    if (existing > 0 && !flags.force) {
      throw new CliError(
        `an admin key already exists (${existing} usable key${existing === 1 ? "" : "s"} with scope ${ADMIN_SCOPE}); sign in with it, or pass --force to create another`,
      );
    }
    const response = await service.client.createKey(
      {
        name: `Console admin ${email}`.slice(0, 100),
        description: flags.force
          ? "Created by keyward bootstrap, created with --force"
          : "Created by keyward bootstrap",
        scopes: [ADMIN_SCOPE],
        claims: { email },
      },
      asActor({ name: BOOTSTRAP_ACTOR }),
    );
    const key = keyJson(required(response.key, "the key"));
    if (flags.json) return printJson(ctx.io, { key, token: response.token });
    printLine(ctx.io, `Created admin key "${key.name}" (${key.id}) for ${email}.`);
    printToken(ctx.io, ctx.palette, response.token);
    printLine(ctx.io, "Sign in with it: export KEYWARD_TOKEN=<the token above>");
  } catch (error) {
    throw serviceFailure(error, config);
  } finally {
    service.close();
  }
}

/** Usable admin keys: active, or inactive (unused for a while, but they still verify). */
async function countAdminKeys(client: KeyServiceClient): Promise<number> {
  const [active, inactive] = await Promise.all([
    client.countKeys({ scope: ADMIN_SCOPE, status: KeyStatus.ACTIVE }),
    client.countKeys({ scope: ADMIN_SCOPE, status: KeyStatus.INACTIVE }),
  ]);
  return Number(active.count + inactive.count);
}

/**
 * resolveServiceToken creates a token file when none exists; here that would
 * only make a token the service does not know, so a missing one is an error.
 */
function serviceToken(config: Config): string {
  if (!config.KEYWARD_SERVICE_TOKEN && !existsSync(join(config.dataDir, "service-token"))) {
    throw new UsageError(
      `no service token: set KEYWARD_SERVICE_TOKEN to the key service's token, or run bootstrap with the service's KEYWARD_DATA_DIR (no ${join(config.dataDir, "service-token")})`,
    );
  }
  return resolveServiceToken(config);
}

function serviceFailure(error: unknown, config: Config): unknown {
  if (!(error instanceof ConnectError)) return error;
  switch (error.code) {
    case Code.Unavailable:
      return new CliError(
        `cannot reach the key service at ${config.KEYWARD_SERVICE_URL} (KEYWARD_SERVICE_URL): is it running?`,
      );
    case Code.DeadlineExceeded:
      return new CliError(`the key service at ${config.KEYWARD_SERVICE_URL} did not answer in time`);
    case Code.Unauthenticated:
      return new CliError(
        "the key service rejected the service token: set KEYWARD_SERVICE_TOKEN to the service's token, or run bootstrap with the service's KEYWARD_DATA_DIR",
      );
    default:
      return new CliError(`the key service refused: ${error.rawMessage}`);
  }
}

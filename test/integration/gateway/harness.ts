import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGatewayClient, type GatewayClient } from "../../../src/cli/client.js";
import { type Config, loadConfig } from "../../../src/config.js";
import { type RunningGateway, startGateway } from "../../../src/gateway/server.js";
import { startService } from "../../../src/service/server.js";
import { ADMIN_SCOPE, MEMBER_SCOPE } from "../../../src/shared/contract/scopes.js";
import { asActor, createServiceClient, type KeyServiceClient } from "../../../src/shared/contract/service-client.js";
import { createLogger } from "../../../src/shared/logger.js";
import { eventually as retryUntil } from "../../support/eventually.js";
import { dropPrefix, uniquePrefix } from "../../support/redis.js";

/**
 * A real key service on a temp data dir and a real gateway in front of it,
 * both on free ports, plus a direct service client for setting up admin keys.
 */
export interface Harness {
  dir: string;
  config: Config;
  /** The gateway's base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  serviceUrl: string;
  /** The service's gRPC port, e.g. 127.0.0.1:41235 */
  grpcAddress: string;
  serviceToken: string;
  /** The service called directly with the service credential (actor "harness"). */
  service: KeyServiceClient;
  /** A console key made directly at the service: scope console:admin / console:member / another. */
  consoleKey(role: "admin" | "member" | "other", email?: string): Promise<{ id: string; token: string }>;
  /** A typed tRPC client of the gateway, like the CLI's. */
  client(token: string): GatewayClient;
  close(): Promise<void>;
}

export async function startHarness(options: { startGateway?: boolean } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "keyward-gateway-"));
  // A queue prefix of its own: the gateway's console sessions (and any queue) go under it, and close() drops it.
  const prefix = uniquePrefix();
  const config = loadConfig({
    KEYWARD_DATA_DIR: dir,
    KEYWARD_QUEUE_PREFIX: prefix,
    KEYWARD_SERVICE_PORT: "0",
    KEYWARD_CONNECT_PORT: "0",
    KEYWARD_GATEWAY_PORT: "0",
    // Usage is flushed often so that usage and logs tests need not wait a second.
    KEYWARD_USAGE_FLUSH_MS: "50",
    LOG_LEVEL: "silent",
  });
  const logger = createLogger("silent");
  const started = await startService(config, { logger });
  const serviceUrl = `http://127.0.0.1:${started.connectPort}`;
  let gateway: RunningGateway | undefined;
  if (options.startGateway !== false) {
    gateway = await startGateway(config, { logger, serviceToken: started.serviceToken, serviceUrl });
  }
  const direct = createServiceClient({ baseUrl: serviceUrl, serviceToken: started.serviceToken });
  let n = 0;
  let closing: Promise<void> | undefined;
  return {
    dir,
    config,
    url: `http://127.0.0.1:${gateway?.port ?? 0}`,
    serviceUrl,
    grpcAddress: `127.0.0.1:${started.grpcPort}`,
    serviceToken: started.serviceToken,
    service: direct.client,
    async consoleKey(role, email = `${role}-${++n}@example.com`) {
      const scope = role === "admin" ? ADMIN_SCOPE : role === "member" ? MEMBER_SCOPE : "read:users";
      const { key, token } = await direct.client.createKey(
        { name: `${role} ${email}`, scopes: [scope], claims: { email } },
        asActor("harness"),
      );
      return { id: key?.id ?? "", token };
    },
    client(token) {
      return createGatewayClient({ url: `http://127.0.0.1:${gateway?.port ?? 0}`, token });
    },
    close() {
      closing ??= (async () => {
        await gateway?.close();
        direct.close();
        await started.close();
        await dropPrefix(config.REDIS_URL, prefix);
        rmSync(dir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}

/** A UUID no key has. */
export const UNKNOWN_ID = "01890000-0000-7000-8000-000000000000";

/** The HTTP status of a failed tRPC client call (fails the test if the call succeeds). */
export async function failure(
  call: Promise<unknown>,
): Promise<{ status: number; code: string; message: string; field: string | null }> {
  try {
    await call;
  } catch (error) {
    const e = error as { message: string; data?: { httpStatus?: number; code?: string; field?: string | null } };
    return {
      status: e.data?.httpStatus ?? 0,
      code: e.data?.code ?? "",
      message: e.message,
      field: e.data?.field ?? null,
    };
  }
  throw new Error("expected the call to fail, and it succeeded");
}

/** Waits until `check` passes (usage is written off the hot path). */
export function eventually<T>(check: () => Promise<T>, timeoutMs = 5000): Promise<T> {
  return retryUntil(check, timeoutMs);
}

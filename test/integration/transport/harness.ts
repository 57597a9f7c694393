import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { loadConfig } from "../../../src/config.js";
import { type StartedService, startService } from "../../../src/service/server.js";
import { createKeyServiceConnectClient, type KeyServiceConnectClient } from "../../support/connect-client.js";
import { createKeyServiceGrpcClient, type KeyServiceGrpcClient } from "../../support/grpc-client.js";

export const silentLogger = pino({ level: "silent" });

export interface TransportHarness {
  service: StartedService;
  grpcAddress: string;
  connectUrl: string;
  /** grpc-js, with the service credential. */
  admin: KeyServiceGrpcClient;
  /** grpc-js, no credential: an internal service calling VerifyKey. */
  caller: KeyServiceGrpcClient;
  connect(options?: { token?: string; protocol?: "connect" | "grpc-web" }): KeyServiceConnectClient;
  stop(): Promise<void>;
}

/** The whole service (real domain, real SQLite in a temp dir) on free ports. */
export async function startHarness(env: Record<string, string> = {}): Promise<TransportHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), "keyward-transport-"));
  const service = await startService(
    loadConfig({
      KEYWARD_DATA_DIR: dataDir,
      KEYWARD_SERVICE_PORT: "0",
      KEYWARD_CONNECT_PORT: "0",
      LOG_LEVEL: "silent",
      ...env,
    }),
  );
  const grpcAddress = `127.0.0.1:${service.grpcPort}`;
  const connectUrl = `http://127.0.0.1:${service.connectPort}`;
  const admin = createKeyServiceGrpcClient(grpcAddress, { token: service.serviceToken });
  const caller = createKeyServiceGrpcClient(grpcAddress);
  return {
    service,
    grpcAddress,
    connectUrl,
    admin,
    caller,
    connect: (options = {}) => createKeyServiceConnectClient(connectUrl, options),
    async stop() {
      admin.close();
      caller.close();
      await service.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The grpc-js error a call rejects with. */
export async function grpcFailure(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await call;
  } catch (error) {
    const { code, details } = error as { code: number; details: string };
    return { code, details };
  }
  throw new Error("expected the call to fail; it succeeded");
}

/** A promise and its resolver, to hold a call at a known point. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

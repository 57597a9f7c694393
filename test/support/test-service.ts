import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Config, loadConfig } from "../../src/config.js";
import { type StartedService, startService } from "../../src/service/server.js";
import { createKeyServiceConnectClient, type KeyServiceConnectClient } from "./connect-client.js";
import { createKeyServiceGrpcClient, type KeyServiceGrpcClient } from "./grpc-client.js";

/** A test clock: starts at real time, moves only when told. */
export class TestClock {
  constructor(public now = Date.now()) {}
  readonly read = () => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export interface TestService {
  service: StartedService;
  config: Config;
  dataDir: string;
  clock: TestClock;
  /** grpc-js client with the service credential and actor "admin@example.com". */
  admin: KeyServiceGrpcClient;
  /** grpc-js client with no credential, as an internal caller of VerifyKey. */
  caller: KeyServiceGrpcClient;
  connect(options?: { token?: string; protocol?: "connect" | "grpc-web" }): KeyServiceConnectClient;
  /** Closes clients and the service, then removes the data directory. */
  stop(): Promise<void>;
}

/** Starts a real service on free ports over a fresh SQLite file in a temp directory. */
export async function startTestService(env: Record<string, string> = {}): Promise<TestService> {
  const dataDir = mkdtempSync(join(tmpdir(), "keyward-test-"));
  const config = loadConfig({
    KEYWARD_DATA_DIR: dataDir,
    KEYWARD_SERVICE_PORT: "0",
    KEYWARD_CONNECT_PORT: "0",
    LOG_LEVEL: "silent",
    ...env,
  });
  const clock = new TestClock();
  const service = await startService(config, { clock: clock.read });
  const address = `127.0.0.1:${service.grpcPort}`;
  const admin = createKeyServiceGrpcClient(address, { token: service.serviceToken, actor: "admin@example.com" });
  const caller = createKeyServiceGrpcClient(address);
  return {
    service,
    config,
    dataDir,
    clock,
    admin,
    caller,
    connect: (options = {}) =>
      createKeyServiceConnectClient(`http://127.0.0.1:${service.connectPort}`, {
        token: options.token ?? service.serviceToken,
        protocol: options.protocol,
      }),
    async stop() {
      admin.close();
      caller.close();
      await service.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The grpc-js error of a rejected call, for asserting its code and details. */
export async function grpcError(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code: number; details: string };
    return { code: e.code, details: e.details };
  }
  throw new Error("expected the call to fail, and it succeeded");
}

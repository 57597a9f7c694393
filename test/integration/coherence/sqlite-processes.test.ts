import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import { VerifyCode } from "../../../src/gen/keyward/v1/verify_pb.js";
import { type StartedService, startService } from "../../../src/service/server.js";
import { createKeyServiceGrpcClient, type KeyServiceGrpcClient } from "../../support/grpc-client.js";
import { startTestService, type TestService } from "../../support/test-service.js";

/**
 * Two services on one SQLite file (as two processes of one machine would
 * be): a change made through one is seen by the other's cache within 100 ms.
 */

let a: TestService;
let b: StartedService;
let bAdmin: KeyServiceGrpcClient;
let bCaller: KeyServiceGrpcClient;

beforeAll(async () => {
  a = await startTestService();
  b = await startService(loadConfig({ ...Object.fromEntries(Object.entries(a.config).filter(([k]) => k.startsWith("KEYWARD_") || k === "LOG_LEVEL").map(([k, v]) => [k, String(v)])), KEYWARD_SERVICE_PORT: "0", KEYWARD_CONNECT_PORT: "0", KEYWARD_SERVICE_TOKEN: a.service.serviceToken }));
  bAdmin = createKeyServiceGrpcClient(`127.0.0.1:${b.grpcPort}`, { token: a.service.serviceToken, actor: "b@example.com" });
  bCaller = createKeyServiceGrpcClient(`127.0.0.1:${b.grpcPort}`);
});
afterAll(async () => {
  bAdmin?.close();
  bCaller?.close();
  await b?.close();
  await a?.stop();
});

async function until(check: () => Promise<boolean>, limitMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`);
  }
}

describe("two services on one SQLite file", () => {
  it("a revocation through one reaches the other's cache", async () => {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const { key, token } = await a.admin.unary("createKey", { name: `k${i}` });
      expect((await bCaller.unary("verifyKey", { token })).code).toBe(VerifyCode.VALID);
      await a.admin.unary("deleteKey", { id: key?.id as string });
      times.push(await until(async () => (await bCaller.unary("verifyKey", { token })).code === VerifyCode.REVOKED, 2000));
    }
    console.log(times.sort((x, y) => x - y));
  });
});

import { Writable } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import { status } from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VerifyCode } from "../../../src/gen/keyward/v1/verify_pb.js";
import { createHandlers } from "../../../src/service/handlers.js";
import type { KeysApi } from "../../../src/service/keys/api.js";
import { createConnectServer } from "../../../src/service/transport/connect-server.js";
import { createGrpcServer } from "../../../src/service/transport/grpc-server.js";
import { createKeyServiceConnectClient } from "../../support/connect-client.js";
import { createKeyServiceGrpcClient } from "../../support/grpc-client.js";
import { grpcFailure, silentLogger, startHarness, type TransportHarness } from "./harness.js";

describe("VerifyKey with KEYWARD_VERIFY_REQUIRES_AUTH=true", () => {
  let t: TransportHarness;
  beforeAll(async () => {
    t = await startHarness({ KEYWARD_VERIFY_REQUIRES_AUTH: "true" });
  });
  afterAll(async () => {
    await t.stop();
  });

  it("refuses callers without the service token and answers those with it", async () => {
    const refused = await grpcFailure(t.caller.unary("verifyKey", { token: "kw_x" }));
    expect(refused.code).toBe(status.UNAUTHENTICATED);
    const viaConnect = await t
      .connect()
      .verifyKey({ token: "kw_x" })
      .catch((e: unknown) => ConnectError.from(e));
    expect(viaConnect).toBeInstanceOf(ConnectError);
    expect((viaConnect as ConnectError).code).toBe(Code.Unauthenticated);
    await expect(t.admin.unary("verifyKey", { token: "kw_x" })).resolves.toMatchObject({
      valid: false,
      code: VerifyCode.MALFORMED,
    });
  });
});

describe("an unexpected error in the domain", () => {
  let t: TransportHarness;
  beforeAll(async () => {
    t = await startHarness();
  });
  afterAll(async () => {
    await t.stop();
  });

  it("is logged with a request id and answered INTERNAL with only that id, on both transports", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: "error" },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    );
    // The real domain, except that CountKeys fails the way a broken disk would.
    const real = t.service.keys as KeysApi;
    const keys = new Proxy(real, {
      get(target, property) {
        if (property === "count") {
          return async () => {
            throw new Error("SQLITE_IOERR: disk I/O error at /var/lib/keyward/keyward.db");
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const impl = createHandlers({ keys, serviceToken: t.service.serviceToken, verifyRequiresAuth: false, logger });
    const grpcServer = await createGrpcServer(impl, { host: "127.0.0.1", port: 0, logger: silentLogger });
    const connectServer = await createConnectServer(impl, { host: "127.0.0.1", port: 0, logger: silentLogger });
    const grpcClient = createKeyServiceGrpcClient(`127.0.0.1:${grpcServer.port}`, { token: t.service.serviceToken });
    try {
      const viaGrpc = await grpcFailure(grpcClient.unary("countKeys", {}));
      expect(viaGrpc.code).toBe(status.INTERNAL);
      const grpcId = /^internal error \(request id ([0-9a-f-]{36})\)$/.exec(viaGrpc.details)?.[1];
      expect(grpcId).toBeDefined();

      const connectClient = createKeyServiceConnectClient(`http://127.0.0.1:${connectServer.port}`, {
        token: t.service.serviceToken,
      });
      const viaConnect = ConnectError.from(await connectClient.countKeys({}).catch((e: unknown) => e));
      expect(viaConnect.code).toBe(Code.Internal);
      expect(viaConnect.rawMessage).toMatch(/^internal error \(request id [0-9a-f-]{36}\)$/);
      expect(viaConnect.rawMessage).not.toContain("SQLITE");

      const logged = lines.find((line) => line.requestId === grpcId);
      expect(logged).toMatchObject({ level: 50, rpc: "CountKeys" });
      expect(JSON.stringify(logged)).toContain("SQLITE_IOERR");
    } finally {
      grpcClient.close();
      await Promise.all([grpcServer.close(0), connectServer.close(0)]);
    }
  });
});

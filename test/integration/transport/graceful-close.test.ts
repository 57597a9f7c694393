import { status } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHandlers } from "../../../src/service/handlers.js";
import type { KeysApi } from "../../../src/service/keys/api.js";
import { createConnectServer } from "../../../src/service/transport/connect-server.js";
import { createGrpcServer } from "../../../src/service/transport/grpc-server.js";
import { createKeyServiceConnectClient } from "../../support/connect-client.js";
import { createKeyServiceGrpcClient } from "../../support/grpc-client.js";
import { deferred, grpcFailure, silentLogger, startHarness, type TransportHarness } from "./harness.js";

let t: TransportHarness;
let keyId: string;
beforeAll(async () => {
  t = await startHarness();
  const { key } = await t.admin.unary("createKey", { name: "in flight" });
  keyId = key?.id ?? "";
});
afterAll(async () => {
  await t.stop();
});

/**
 * The real domain, with GetKey held at a gate: the call is in flight, inside
 * the domain, until the test opens it. Every other method is the real one.
 */
function gatedKeys(): { keys: KeysApi; entered: Promise<void>; open(): void } {
  const entered = deferred();
  const gate = deferred();
  const real = t.service.keys as KeysApi;
  const keys = new Proxy(real, {
    get(target, property) {
      if (property === "get") {
        return async (id: string) => {
          entered.resolve();
          await gate.promise;
          return target.get(id);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { keys, entered: entered.promise, open: () => gate.resolve() };
}

function handlersOver(keys: KeysApi) {
  return createHandlers({
    keys,
    serviceToken: t.service.serviceToken,
    verifyRequiresAuth: false,
    logger: silentLogger,
  });
}

describe("grpc-js server close", () => {
  it("lets an in-flight call finish, refuses new ones, and resolves once it is done", async () => {
    const gated = gatedKeys();
    const server = await createGrpcServer(handlersOver(gated.keys), {
      host: "127.0.0.1",
      port: 0,
      logger: silentLogger,
    });
    const client = createKeyServiceGrpcClient(`127.0.0.1:${server.port}`, { token: t.service.serviceToken });
    const other = createKeyServiceGrpcClient(`127.0.0.1:${server.port}`, { token: t.service.serviceToken });
    try {
      const inFlight = client.unary("getKey", { id: keyId });
      await gated.entered;

      const order: string[] = [];
      const closed = server.close(10_000).then(() => order.push("closed"));
      const refused = await grpcFailure(other.unary("countKeys", {}, {}, { deadline: Date.now() + 2000 }));
      expect(refused.code).toBe(status.UNAVAILABLE);

      gated.open();
      const { key } = await inFlight;
      order.push("call answered");
      expect(key?.id).toBe(keyId);
      await closed;
      expect(order).toEqual(["call answered", "closed"]);
    } finally {
      client.close();
      other.close();
    }
  });

  it("cuts a call still running when the grace period ends, and turns health NOT_SERVING first", async () => {
    const gated = gatedKeys();
    const server = await createGrpcServer(handlersOver(gated.keys), {
      host: "127.0.0.1",
      port: 0,
      logger: silentLogger,
    });
    const client = createKeyServiceGrpcClient(`127.0.0.1:${server.port}`, { token: t.service.serviceToken });
    const watch = healthService.Watch;
    if (watch === undefined) throw new Error("no Watch in grpc-health-check");
    try {
      const statuses: string[] = [];
      const watcher = client.client.makeServerStreamRequest(
        watch.path,
        watch.requestSerialize,
        watch.responseDeserialize,
        { service: "keyward.v1.KeyService" },
      );
      const firstStatus = new Promise<void>((resolve) =>
        watcher.on("data", (message: { status: string }) => {
          statuses.push(message.status);
          resolve();
        }),
      );
      watcher.on("error", () => {}); // cut by forceShutdown below
      await firstStatus;

      const stuck = client.unary("getKey", { id: keyId });
      await gated.entered;
      const started = Date.now();
      await server.close(300);
      expect(Date.now() - started).toBeLessThan(2000);
      const cut = await grpcFailure(stuck);
      expect([status.UNAVAILABLE, status.CANCELLED, status.INTERNAL]).toContain(cut.code);
      expect(statuses).toEqual(["SERVING", "NOT_SERVING"]);
    } finally {
      gated.open();
      client.close();
    }
  });
});

describe("Connect server close", () => {
  it("lets an in-flight call finish and resolves once it is done", async () => {
    const gated = gatedKeys();
    const server = await createConnectServer(handlersOver(gated.keys), {
      host: "127.0.0.1",
      port: 0,
      logger: silentLogger,
    });
    const client = createKeyServiceConnectClient(`http://127.0.0.1:${server.port}`, {
      token: t.service.serviceToken,
    });
    // A finished call first, so that an idle keep-alive socket is open too.
    await client.countKeys({});

    const inFlight = client.getKey({ id: keyId });
    await gated.entered;
    const order: string[] = [];
    const closed = server.close(10_000).then(() => order.push("closed"));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(order).toEqual([]);

    gated.open();
    const [{ key }] = await Promise.all([inFlight, closed]);
    // The server closes once the answer is written, which may be before the
    // client has read it: only "not before the call was released" is promised.
    expect(key?.id).toBe(keyId);
    expect(order).toEqual(["closed"]);
  });
});

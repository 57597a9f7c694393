import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VerifyCode } from "../../../src/gen/keyward/v1/verify_pb.js";
import { type ChildService, startChildService, stopChildService } from "../../support/child-service.js";
import { eventually } from "../../support/eventually.js";
import { createKeyServiceGrpcClient } from "../../support/grpc-client.js";
import { createTestDatabase, TEST_PG_URL, type TestDatabase } from "../../support/postgres.js";
import { startTcpProxy, type TcpProxy } from "../../support/tcp-proxy.js";
import { describeCoherence, type Entrance } from "./coherence-suite.js";

/** Replicas as separate processes on one PostgreSQL database, as on three machines. */

const SERVICE_TOKEN = "replica-test-service-token-0123456789abcdef";
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function startReplica(db: TestDatabase, env: Record<string, string> = {}): Promise<ChildService> {
  const dir = mkdtempSync(join(tmpdir(), "keyward-replica-"));
  dirs.push(dir);
  return startChildService(dir, { DATABASE_URL: db.url, KEYWARD_SERVICE_TOKEN: SERVICE_TOKEN, ...env });
}

function entranceOf(replica: ChildService, i: number): Entrance {
  const address = `127.0.0.1:${replica.grpcPort}`;
  return {
    admin: createKeyServiceGrpcClient(address, { token: SERVICE_TOKEN, actor: `admin-${i}@example.com` }),
    caller: createKeyServiceGrpcClient(address),
  };
}

function closeEntrance(entrance: Entrance): void {
  entrance.admin.close();
  entrance.caller.close();
}

describeCoherence("three replicas on one PostgreSQL database", async () => {
  const db = await createTestDatabase();
  // Started together: they migrate the new database at the same moment.
  const replicas = await Promise.all([startReplica(db), startReplica(db), startReplica(db)]);
  const entrances = replicas.map(entranceOf);
  return {
    entrances,
    async killOne() {
      const victim = replicas[2] as ChildService;
      victim.child.kill("SIGKILL");
      await victim.exited;
      return entrances.slice(0, 2);
    },
    async stop() {
      entrances.forEach(closeEntrance);
      await Promise.all(replicas.map((r) => stopChildService(r)));
      await db.drop();
    },
  };
});

describe("a replica cut off from the change feed", () => {
  const MAX_LAG_MS = 500;
  let db: TestDatabase;
  let proxy: TcpProxy;
  let near: ChildService;
  let far: ChildService;
  let nearClient: Entrance;
  let farClient: Entrance;

  beforeAll(async () => {
    db = await createTestDatabase();
    const server = new URL(TEST_PG_URL);
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    const viaProxy = new URL(db.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    near = await startReplica(db);
    far = await startChildService(mkdtempSync(join(tmpdir(), "keyward-replica-")), {
      DATABASE_URL: viaProxy.toString(),
      KEYWARD_SERVICE_TOKEN: SERVICE_TOKEN,
      KEYWARD_CACHE_MAX_LAG_MS: String(MAX_LAG_MS),
    });
    nearClient = entranceOf(near, 0);
    farClient = entranceOf(far, 1);
  }, 60_000);
  afterAll(async () => {
    if (nearClient) closeEntrance(nearClient);
    if (farClient) closeEntrance(farClient);
    await Promise.all([near && stopChildService(near), far && stopChildService(far, 2000)]);
    await proxy?.close();
    await db?.drop();
  }, 60_000);

  const healthz = async (replica: ChildService) => {
    const response = await fetch(`http://127.0.0.1:${replica.connectPort}/healthz`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it("goes NOT_SERVING within the bound, serves no revoked key, and comes back after catching up", async () => {
    const { key, token } = await nearClient.admin.unary("createKey", { name: "cut off" });
    expect((await farClient.caller.unary("verifyKey", { token })).code).toBe(VerifyCode.VALID);
    expect(await farClient.caller.health()).toBe("SERVING");
    expect((await healthz(far)).status).toBe(200);

    await proxy.cut();
    const cutAt = Date.now();
    await eventually(async () => expect(await farClient.caller.health()).toBe("NOT_SERVING"), MAX_LAG_MS * 10);
    console.info(`NOT_SERVING ${Date.now() - cutAt} ms after the cut (bound ${MAX_LAG_MS} ms)`);
    const cut = await healthz(far);
    expect(cut.status).toBe(503);
    expect(cut.body).toMatchObject({ status: "not_serving", changes: "lagging" });
    const metrics = await (await fetch(`http://127.0.0.1:${far.connectPort}/metrics`)).text();
    const lag = Number(/^keyward_cache_change_lag_seconds (\S+)$/m.exec(metrics)?.[1]);
    expect(lag).toBeGreaterThan(MAX_LAG_MS / 1000);
    expect(far.log()).toContain("NOT_SERVING");

    // Revoked meanwhile through a replica that can reach the database.
    await nearClient.admin.unary("deleteKey", { id: key?.id as string, reason: "revoked while cut off" });
    // The cut-off replica cannot know: it must not answer from its cache.
    const answer = await farClient.caller.unary("verifyKey", { token }).then(
      (r) => r.code,
      (error: { code: number }) => `grpc ${error.code}`,
    );
    expect(answer).not.toBe(VerifyCode.VALID);

    await proxy.resume();
    await eventually(async () => expect(await farClient.caller.health()).toBe("SERVING"), 15_000);
    expect((await healthz(far)).status).toBe(200);
    expect((await farClient.caller.unary("verifyKey", { token })).code).toBe(VerifyCode.REVOKED);
  });
});

import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { VerifyCode } from "../../../src/gen/keyward/v1/verify_pb.js";
import { generateToken } from "../../../src/service/keys/token.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";
import { startTcpProxy, type TcpProxy } from "../../support/tcp-proxy.js";
import { grpcError, startTestService, type TestService } from "../../support/test-service.js";

/**
 * The whole key service on PostgreSQL (DATABASE_URL), over gRPC. The database
 * is reached through a loopback proxy so that the test can cut it off.
 */
let database: TestDatabase;
let proxy: TcpProxy;
let t: TestService;
let failure: unknown;

beforeAll(async () => {
  try {
    database = await createTestDatabase();
    const target = new URL(database.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const url = new URL(database.url);
    url.port = String(proxy.port);
    t = await startTestService({ DATABASE_URL: url.toString(), KEYWARD_PG_POOL_SIZE: "4" });
  } catch (error) {
    failure = error;
  }
});

// Without PostgreSQL every test fails with the reason (a failing beforeAll would only skip them).
beforeEach(() => {
  if (failure !== undefined) throw failure;
});

afterAll(async () => {
  await t?.stop();
  await proxy?.close();
  await database?.drop();
});

const verify = (token: string, extra: Record<string, unknown> = {}) => t.caller.unary("verifyKey", { token, ...extra });

async function health(): Promise<{ status: string; store: string }> {
  const response = await fetch(`http://127.0.0.1:${t.service.connectPort}/healthz`);
  return (await response.json()) as { status: string; store: string };
}

describe("the key service on PostgreSQL", () => {
  it("keeps its data in the database, not in a SQLite file", async () => {
    const { key } = await t.admin.unary("createKey", { name: "Where" });
    const rows = await database.query<{ name: string }>("SELECT name FROM keys WHERE id = $1", [key?.id]);
    expect(rows).toEqual([{ name: "Where" }]);
    await expect(health()).resolves.toMatchObject({ status: "ok", store: "ok", changes: "following" });
  });

  it("creates, verifies, updates, rotates and deletes a key", async () => {
    const { key, token } = await t.admin.unary("createKey", { name: "Lifecycle", scopes: ["emails:send"] });
    expect(await verify(token)).toMatchObject({ valid: true, code: VerifyCode.VALID });

    const { key: updated } = await t.admin.unary("updateKey", {
      id: key?.id,
      updateMask: { paths: ["name", "description"] },
      name: "Renamed",
      description: "on postgres",
    });
    expect(updated).toMatchObject({ name: "Renamed", description: "on postgres" });
    const stale = await grpcError(
      t.admin.unary("updateKey", { id: key?.id, etag: key?.etag, updateMask: { paths: ["name"] }, name: "Stale" }),
    );
    expect(stale.code).toBe(status.ABORTED);

    const rotated = await t.admin.unary("rotateKey", { id: key?.id, gracePeriodSeconds: 0 });
    expect(rotated.previousKey?.rotatedToId).toBe(rotated.key?.id);
    expect(await verify(rotated.token)).toMatchObject({ valid: true });
    expect((await verify(token)).valid).toBe(false);

    await t.admin.unary("deleteKey", { id: rotated.key?.id, reason: "done" });
    expect((await verify(rotated.token)).valid).toBe(false);

    const events = await t.admin.unary("listAuditEvents", { keyId: key?.id, pageSize: 10 });
    expect(events.events.map((e) => e.action).length).toBeGreaterThanOrEqual(3);
    const changes = await database.query<{ key_id: string; version: number }>(
      "SELECT key_id, version FROM key_changes WHERE key_id = ANY($1::text[]) ORDER BY id",
      [[key?.id, rotated.key?.id]],
    );
    expect(changes).toEqual([
      { key_id: key?.id, version: 1 },
      { key_id: key?.id, version: 2 },
      { key_id: key?.id, version: 3 },
      { key_id: rotated.key?.id, version: 1 },
      { key_id: rotated.key?.id, version: 2 },
    ]);
  });

  it("spends exactly the credits that concurrent verifications race for", async () => {
    const { key, token } = await t.admin.unary("createKey", { name: "Twenty", remaining: 20n });
    const results = await Promise.all(Array.from({ length: 60 }, () => verify(token)));
    expect(results.filter((r) => r.valid)).toHaveLength(20);
    expect(results.filter((r) => r.code === VerifyCode.USAGE_EXCEEDED)).toHaveLength(40);
    const { key: after } = await t.admin.unary("getKey", { id: key?.id });
    expect(after?.remaining).toBe(0n);
  });

  it("answers UNAVAILABLE (not INTERNAL) while the database is cut off, and recovers", async () => {
    const { key } = await t.admin.unary("createKey", { name: "Cut off" });
    await proxy.cut();
    try {
      const read = await grpcError(t.admin.unary("getKey", { id: key?.id }));
      expect(read.code).toBe(status.UNAVAILABLE);
      const write = await grpcError(t.admin.unary("createKey", { name: "Not now" }));
      expect(write.code).toBe(status.UNAVAILABLE);
      // A token the cache has never seen needs the database.
      const unknown = await grpcError(verify(generateToken("kw")));
      expect(unknown.code).toBe(status.UNAVAILABLE);
      await expect(health()).resolves.toMatchObject({ store: "unavailable" });
    } finally {
      await proxy.resume();
    }
    await vi.waitFor(async () => expect((await t.admin.unary("getKey", { id: key?.id })).key?.name).toBe("Cut off"), {
      timeout: 10_000,
    });
    await expect(health()).resolves.toMatchObject({ status: "ok", store: "ok", changes: "following" });
  });
});

import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { KeyStatus } from "../../../src/gen/keyward/v1/key_pb.js";
import { VerifyCode } from "../../../src/gen/keyward/v1/verify_pb.js";
import { resolveServiceToken } from "../../../src/shared/service-token.js";
import { type ChildService, startChildService } from "../../support/child-service.js";
import { createKeyServiceGrpcClient, type KeyServiceGrpcClient } from "../../support/grpc-client.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "keyward-durable-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function clientFor(service: ChildService, dataDir: string): KeyServiceGrpcClient {
  const token = resolveServiceToken({ dataDir });
  const client = createKeyServiceGrpcClient(`127.0.0.1:${service.grpcPort}`, { token });
  cleanups.push(() => client.close());
  return client;
}

async function start(dataDir: string): Promise<ChildService> {
  const service = await startChildService(dataDir);
  cleanups.push(async () => {
    if (service.child.exitCode === null && service.child.signalCode === null) {
      service.child.kill("SIGKILL");
      await service.exited;
    }
  });
  return service;
}

describe("durability", () => {
  it("keeps every acknowledged create and revocation across kill -9", async () => {
    const dataDir = tempDir();
    const first = await start(dataDir);
    const client = clientFor(first, dataDir);
    const created: { id: string; token: string }[] = [];
    for (let i = 0; i < 20; i++) {
      const { key, token } = await client.unary("createKey", { name: `Durable ${i}` });
      created.push({ id: key?.id ?? "", token });
    }
    const revoked = created[3] as { id: string; token: string };
    await client.unary("deleteKey", { id: revoked.id, reason: "test" });
    first.child.kill("SIGKILL");
    await first.exited;

    const second = await start(dataDir);
    const after = clientFor(second, dataDir);
    const { count } = await after.unary("countKeys", {});
    expect(count).toBe(20n);
    for (const { id, token } of created) {
      const result = await after.unary("verifyKey", { token });
      expect(result.code).toBe(id === revoked.id ? VerifyCode.REVOKED : VerifyCode.VALID);
    }
    const { key } = await after.unary("getKey", { id: revoked.id });
    expect(key).toMatchObject({ status: KeyStatus.REVOKED, revocationReason: "test" });
    const db = new Database(join(dataDir, "keyward.db"), { readonly: true });
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    db.close();
  });

  it("flushes usage on SIGTERM and loses at most one flush interval on kill -9", async () => {
    const dataDir = tempDir();
    const first = await start(dataDir);
    const client = clientFor(first, dataDir);
    const { key, token } = await client.unary("createKey", { name: "Counted" });
    for (let i = 0; i < 25; i++) await client.unary("verifyKey", { token });
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);

    const second = await start(dataDir);
    const after = clientFor(second, dataDir);
    const { key: counted } = await after.unary("getKey", { id: key?.id });
    expect(counted?.requestCount).toBe(25n);
  });

  it("never writes a token to the database, the WAL or the log", async () => {
    const dataDir = tempDir();
    const service = await start(dataDir);
    const client = clientFor(service, dataDir);
    const tokens: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { key, token } = await client.unary("createKey", { name: `Secret ${i}`, allowedCidrs: ["10.0.0.0/8"] });
      tokens.push(token);
      await client.unary("verifyKey", { token, context: { ip: "192.0.2.1", path: "/x" } });
      await client.unary("verifyKey", { token: `${token.slice(0, -1)}0` });
      const rotated = await client.unary("rotateKey", { id: key?.id, gracePeriodSeconds: 60 });
      tokens.push(rotated.token);
      await client.unary("deleteKey", { id: rotated.key?.id, reason: `not ${token}`.slice(0, 3) });
    }
    // Kill without a checkpoint so that recent pages are still in the WAL file.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    service.child.kill("SIGKILL");
    await service.exited;
    const files = readdirSync(dataDir).filter((f) => f.startsWith("keyward.db"));
    expect(files).toContain("keyward.db");
    const haystacks = [...files.map((f) => readFileSync(join(dataDir, f)).toString("latin1")), service.log()];
    expect(service.log()).toContain("key service listening");
    for (const token of tokens) {
      const secret = token.slice(3, 35); // the random part alone
      for (const haystack of haystacks) expect(haystack.includes(secret)).toBe(false);
    }
  });
});

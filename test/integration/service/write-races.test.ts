import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import { KeyStatus } from "../../../src/gen/keyward/v1/key_pb.js";
import { VerifyCode } from "../../../src/gen/keyward/v1/verify_pb.js";
import { type StartedService, startService } from "../../../src/service/server.js";
import { createKeyServiceGrpcClient, type KeyServiceGrpcClient } from "../../support/grpc-client.js";
import { grpcError, startTestService, type TestService } from "../../support/test-service.js";

/**
 * Every acknowledged change sticks: whatever ordinary edits race it, a
 * revocation, a disable or a rotation answered OK is what the key is
 * afterwards. Each race runs over many rounds on a real gRPC port.
 */

const ROUNDS = 12;
const EDITS = 20;
const DAY_MS = 86_400_000;

let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(async () => {
  await t.stop();
});

async function newKey(client: KeyServiceGrpcClient = t.admin, request: { remaining?: bigint } = {}) {
  const { key, token } = await client.unary("createKey", { name: "raced", ...request });
  return { id: key?.id as string, token };
}

/** `EDITS` description edits, each either applied or refused because the key was revoked meanwhile. */
function edits(id: string, client: KeyServiceGrpcClient = t.admin): Promise<void>[] {
  return Array.from({ length: EDITS }, async (_, i) => {
    try {
      await client.unary("updateKey", { id, description: `edit ${i}`, updateMask: { paths: ["description"] } });
    } catch (error) {
      expect((error as { code: number }).code).toBe(status.FAILED_PRECONDITION);
    }
  });
}

/** Starts `change` in the middle of the edits, so that some read the key before it and write after. */
async function race<T>(id: string, change: () => Promise<T>): Promise<T> {
  const before = edits(id);
  const result = change();
  const after = edits(id);
  await Promise.all([...before, ...after]);
  return result;
}

async function verify(token: string) {
  return (await t.caller.unary("verifyKey", { token })).code;
}

describe("a change racing ordinary edits sticks", () => {
  it("a revoked key stays revoked and fails verification", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { id, token } = await newKey();
      const deleted = await race(id, () => t.admin.unary("deleteKey", { id, reason: `round ${round}` }));
      expect(deleted.key?.status).toBe(KeyStatus.REVOKED);
      const { key } = await t.admin.unary("getKey", { id });
      expect(key?.status).toBe(KeyStatus.REVOKED);
      expect(key?.revokeTime).toBeDefined();
      expect(key?.revocationReason).toBe(`round ${round}`);
      expect(await verify(token)).toBe(VerifyCode.REVOKED);
    }
  });

  it("a disabled key stays disabled and fails verification", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { id, token } = await newKey();
      await race(id, () => t.admin.unary("updateKey", { id, enabled: false, updateMask: { paths: ["enabled"] } }));
      const { key } = await t.admin.unary("getKey", { id });
      expect(key?.enabled).toBe(false);
      expect(await verify(token)).toBe(VerifyCode.DISABLED);
    }
  });

  it("a rotated key keeps its grace-period expiry and its link to the successor", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { id } = await newKey();
      const rotated = await race(id, () => t.admin.unary("rotateKey", { id, gracePeriodSeconds: 60 }));
      const { key } = await t.admin.unary("getKey", { id });
      expect(key?.rotatedToId).toBe(rotated.key?.id);
      expect(Number(key?.expireTime?.seconds)).toBe(Number(rotated.previousKey?.expireTime?.seconds));
      expect(key?.expireTime).toBeDefined();
      const again = await grpcError(t.admin.unary("rotateKey", { id, gracePeriodSeconds: 60 }));
      expect(again.code).toBe(status.FAILED_PRECONDITION);
    }
  });
});

describe("a key is rotated at most once", () => {
  it("four concurrent rotations give one successor and three clear refusals", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { id, token } = await newKey();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 4 }, () => t.admin.unary("rotateKey", { id, gracePeriodSeconds: 60 })),
      );
      const won = outcomes.filter((o) => o.status === "fulfilled");
      const lost = outcomes.filter((o) => o.status === "rejected");
      expect(won).toHaveLength(1);
      for (const o of lost) expect((o.reason as { code: number }).code).toBe(status.FAILED_PRECONDITION);
      const successor = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof t.admin.unary<"rotateKey">>>>)
        .value;
      expect(await verify(successor.token)).toBe(VerifyCode.VALID);
      expect(await verify(token)).toBe(VerifyCode.VALID); // the grace period
      const { key } = await t.admin.unary("getKey", { id });
      expect(key?.rotatedToId).toBe(successor.key?.id);
    }
  });

  it("a rotation racing a deletion either comes first or is refused", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { id, token } = await newKey();
      const [rotation, deletion] = await Promise.allSettled([
        t.admin.unary("rotateKey", { id, gracePeriodSeconds: 60 }),
        t.admin.unary("deleteKey", { id, reason: "raced" }),
      ]);
      expect(deletion.status).toBe("fulfilled");
      expect(await verify(token)).toBe(VerifyCode.REVOKED);
      const { key } = await t.admin.unary("getKey", { id });
      expect(key?.status).toBe(KeyStatus.REVOKED);
      if (rotation.status === "fulfilled") {
        expect(key?.rotatedToId).toBe(rotation.value.key?.id);
        expect(await verify(rotation.value.token)).toBe(VerifyCode.VALID);
      } else {
        expect((rotation.reason as { code: number }).code).toBe(status.FAILED_PRECONDITION);
        expect(key?.rotatedToId).toBe("");
      }
    }
  });
});

describe("edits do not undo what other writers did", () => {
  it("credits spent while a key is edited stay spent", async () => {
    const { id, token } = await newKey(t.admin, { remaining: 1000n });
    const spends = Array.from({ length: 60 }, () => t.caller.unary("verifyKey", { token, cost: 1n }));
    await Promise.all([...edits(id), ...spends]);
    const answers = await Promise.all(spends);
    const spent = answers.filter((a) => a.code === VerifyCode.VALID).length;
    expect(spent).toBe(60);
    const { key } = await t.admin.unary("getKey", { id });
    expect(key?.remaining).toBe(BigInt(1000 - spent));
  });

  it("an automatic revocation by the sweep is not undone by edits racing it", async () => {
    const keys = await Promise.all(Array.from({ length: ROUNDS }, () => newKey()));
    // Every key is now idle for 100 days; the sweep revokes keys idle for 90.
    t.clock.advance(100 * DAY_MS);
    const before = keys.flatMap(({ id }) => edits(id));
    const sweep = t.admin.unary("runSweep", { autoRevokeDays: 90 });
    const after = keys.flatMap(({ id }) => edits(id));
    await Promise.all([sweep, ...before, ...after]);
    const revoked = new Set((await sweep).autoRevoked.map((k) => k.id));
    for (const { id } of keys) expect(revoked.has(id)).toBe(true);
    for (const { id, token } of keys) {
      const { key } = await t.admin.unary("getKey", { id });
      expect(key?.status).toBe(KeyStatus.REVOKED);
      expect(key?.revocationReason).toBe("inactive");
      expect(await verify(token)).toBe(VerifyCode.REVOKED);
    }
  });

  it("an expired key stays expired whatever edits and sweeps race", async () => {
    const { key: created, token } = await t.admin.unary("createKey", { name: "expiring", expiresInSeconds: 60 });
    const id = created?.id as string;
    t.clock.advance(61_000);
    await Promise.all([t.admin.unary("runSweep", {}), ...edits(id)]);
    const { key } = await t.admin.unary("getKey", { id });
    expect(key?.status).toBe(KeyStatus.EXPIRED);
    expect(key?.expireTime?.seconds).toBe(created?.expireTime?.seconds);
    expect(await verify(token)).toBe(VerifyCode.EXPIRED);
  });
});

describe("etags (AIP-154)", () => {
  it("a write with the current etag applies; with a stale one it is ABORTED and changes nothing", async () => {
    const { id } = await newKey();
    const { key: read } = await t.admin.unary("getKey", { id });
    const etag = read?.etag as string;
    expect(etag).not.toBe("");
    const { key: renamed } = await t.admin.unary("updateKey", {
      id,
      name: "renamed",
      updateMask: { paths: ["name"] },
      etag,
    });
    expect(renamed?.etag).not.toBe(etag);

    const stale = await grpcError(
      t.admin.unary("updateKey", { id, name: "lost", updateMask: { paths: ["name"] }, etag }),
    );
    expect(stale.code).toBe(status.ABORTED);
    expect(stale.details).toMatch(/changed/);
    expect((await grpcError(t.admin.unary("deleteKey", { id, etag }))).code).toBe(status.ABORTED);
    expect((await grpcError(t.admin.unary("rotateKey", { id, etag }))).code).toBe(status.ABORTED);
    const { key } = await t.admin.unary("getKey", { id });
    expect(key).toMatchObject({ name: "renamed", status: KeyStatus.ACTIVE, rotatedToId: "", etag: renamed?.etag });
  });

  it("usage and credit spends do not change the etag", async () => {
    const { id, token } = await newKey(t.admin, { remaining: 5n });
    const { key: before } = await t.admin.unary("getKey", { id });
    await t.caller.unary("verifyKey", { token });
    const { key: after } = await t.admin.unary("getKey", { id });
    expect(after?.remaining).toBe(4n);
    expect(after?.etag).toBe(before?.etag);
  });
});

describe("two service processes on one database", () => {
  let other: StartedService;
  let otherAdmin: KeyServiceGrpcClient;
  beforeAll(async () => {
    // A second service with its own writer, cache and in-process queue: only
    // the conditional write keeps the two from undoing each other.
    const config = loadConfig({
      KEYWARD_DATA_DIR: t.dataDir,
      KEYWARD_SERVICE_PORT: "0",
      KEYWARD_CONNECT_PORT: "0",
      LOG_LEVEL: "silent",
    });
    other = await startService(config, { clock: t.clock.read });
    otherAdmin = createKeyServiceGrpcClient(`127.0.0.1:${other.grpcPort}`, {
      token: other.serviceToken,
      actor: "other@example.com",
    });
  });
  afterAll(async () => {
    otherAdmin.close();
    await other.close();
  });

  it("a revocation through one is not undone by edits through the other", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { id } = await newKey();
      const before = edits(id, otherAdmin);
      const deleted = t.admin.unary("deleteKey", { id, reason: "leaked" });
      const after = edits(id, otherAdmin);
      await Promise.all([deleted, ...before, ...after]);
      for (const client of [t.admin, otherAdmin]) {
        const { key } = await client.unary("getKey", { id });
        expect(key?.status).toBe(KeyStatus.REVOKED);
        expect(key?.revocationReason).toBe("leaked");
      }
    }
  });

  it("rotations through both give one successor", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { id } = await newKey();
      const outcomes = await Promise.allSettled([
        t.admin.unary("rotateKey", { id, gracePeriodSeconds: 60 }),
        otherAdmin.unary("rotateKey", { id, gracePeriodSeconds: 60 }),
        t.admin.unary("rotateKey", { id, gracePeriodSeconds: 60 }),
        otherAdmin.unary("rotateKey", { id, gracePeriodSeconds: 60 }),
      ]);
      const won = outcomes.filter((o) => o.status === "fulfilled");
      expect(won).toHaveLength(1);
      for (const o of outcomes) {
        if (o.status === "rejected") expect((o.reason as { code: number }).code).toBe(status.FAILED_PRECONDITION);
      }
      const { keys } = await t.admin.unary("listKeys", { pageSize: 100 });
      expect(keys.filter((k) => k.rotatedFromId === id)).toHaveLength(1);
    }
  });
});

describe("etags that this API never issued", () => {
  it("are INVALID_ARGUMENT naming etag, before anything is read or written", async () => {
    const { id } = await newKey();
    for (const etag of ["*", "KEY_STATUS_REVOKED", "v0", "v1x", "192.0.2.1"]) {
      const error = await grpcError(t.admin.unary("deleteKey", { id, etag }));
      expect(error.code).toBe(status.INVALID_ARGUMENT);
      expect(error.details).toMatch(/^etag: /);
    }
    const { key } = await t.admin.unary("getKey", { id });
    expect(key?.status).toBe(KeyStatus.ACTIVE);
  });
});

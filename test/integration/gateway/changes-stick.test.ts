import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatewayClient } from "../../../src/cli/client.js";
import { VerifyCode } from "../../../src/gen/keyward/v1/verify_pb.js";
import { createKeyServiceGrpcClient, type KeyServiceGrpcClient } from "../../support/grpc-client.js";
import { failure, type Harness, startHarness } from "./harness.js";

/**
 * Through the gateway, as a busy admin team would: a revoke, a disable or a
 * rotation answered 200 is what the key is afterwards, however many edits
 * race it; a key is rotated at most once; an etag makes a write conditional.
 */

const ROUNDS = 6;
const EDITS = 20;

let h: Harness;
let admin: GatewayClient;
let caller: KeyServiceGrpcClient;
beforeAll(async () => {
  h = await startHarness();
  admin = h.client((await h.consoleKey("admin", "ops@example.com")).token);
  caller = createKeyServiceGrpcClient(h.grpcAddress);
});
afterAll(async () => {
  caller.close();
  await h.close();
});

/** Edits of the description; each either applies or is refused because the key was revoked meanwhile. */
function edits(id: string): Promise<void>[] {
  return Array.from({ length: EDITS }, async (_, i) => {
    try {
      await admin.keys.update.mutate({ id, description: `edit ${i}` });
    } catch (error) {
      expect((error as { data?: { code?: string } }).data?.code).toBe("PRECONDITION_FAILED");
    }
  });
}

async function race<T>(id: string, change: () => Promise<T>): Promise<T> {
  const before = edits(id);
  const result = change();
  const after = edits(id);
  await Promise.all([...before, ...after]);
  return result;
}

/** What VerifyKey on the gRPC port answers for the token, e.g. "REVOKED". */
async function verify(token: string): Promise<string> {
  return VerifyCode[(await caller.unary("verifyKey", { token })).code] as string;
}

describe("changes racing edits through the gateway", () => {
  it("keys.delete sticks: the key stays revoked and fails verification", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { key, token } = await admin.keys.create.mutate({ name: `raced ${round}` });
      await race(key.id, () => admin.keys.delete.mutate({ id: key.id, reason: "leaked" }));
      const after = await admin.keys.get.query({ id: key.id });
      expect(after).toMatchObject({ status: "revoked", revocationReason: "leaked" });
      expect(after.revokeTime).not.toBeNull();
      expect(await verify(token)).toBe("REVOKED");
    }
  });

  it("keys.update {enabled:false} sticks", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { key, token } = await admin.keys.create.mutate({ name: `raced ${round}` });
      await race(key.id, () => admin.keys.update.mutate({ id: key.id, enabled: false }));
      expect((await admin.keys.get.query({ id: key.id })).enabled).toBe(false);
      expect(await verify(token)).toBe("DISABLED");
    }
  });

  it("keys.rotate with a grace period sticks: the old key expires and links to its successor", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { key } = await admin.keys.create.mutate({ name: `raced ${round}` });
      const rotated = await race(key.id, () => admin.keys.rotate.mutate({ id: key.id, gracePeriodSeconds: 60 }));
      const old = await admin.keys.get.query({ id: key.id });
      expect(old.rotatedToId).toBe(rotated.key.id);
      expect(old.expireTime).toBe(rotated.previousKey.expireTime);
      expect(old.expireTime).not.toBeNull();
      const again = await failure(admin.keys.rotate.mutate({ id: key.id, gracePeriodSeconds: 60 }));
      expect(again.code).toBe("PRECONDITION_FAILED");
    }
  });

  it("four keys.rotate calls at once give one successor and three clear refusals", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { key } = await admin.keys.create.mutate({ name: `raced ${round}` });
      const outcomes = await Promise.allSettled(
        Array.from({ length: 4 }, () => admin.keys.rotate.mutate({ id: key.id, gracePeriodSeconds: 60 })),
      );
      const won = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
      expect(won).toHaveLength(1);
      for (const o of outcomes) {
        if (o.status === "rejected")
          expect((o.reason as { data?: { code?: string } }).data?.code).toBe("PRECONDITION_FAILED");
      }
      expect(await verify((won[0] as { token: string }).token)).toBe("VALID");
      expect((await admin.keys.get.query({ id: key.id })).rotatedToId).toBe(won[0]?.key.id);
    }
  });
});

describe("etags through the gateway", () => {
  it("keys show an etag; a write with a stale one answers 409 CONFLICT and changes nothing", async () => {
    const { key } = await admin.keys.create.mutate({ name: "etagged" });
    expect(key.etag).toMatch(/.+/);
    const renamed = await admin.keys.update.mutate({ id: key.id, name: "renamed", etag: key.etag });
    expect(renamed.etag).not.toBe(key.etag);
    for (const stale of [
      failure(admin.keys.update.mutate({ id: key.id, name: "lost", etag: key.etag })),
      failure(admin.keys.delete.mutate({ id: key.id, etag: key.etag })),
      failure(admin.keys.rotate.mutate({ id: key.id, etag: key.etag })),
    ]) {
      expect(await stale).toMatchObject({ status: 409, code: "CONFLICT" });
    }
    expect(await admin.keys.get.query({ id: key.id })).toMatchObject({
      name: "renamed",
      status: "active",
      rotatedToId: null,
      etag: renamed.etag,
    });
    const deleted = await admin.keys.delete.mutate({ id: key.id, etag: renamed.etag });
    expect(deleted.status).toBe("revoked");
  });
});

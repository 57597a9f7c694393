import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExportResource, ExportState } from "../../../src/gen/keyward/v1/export_pb.js";
import { KeyStatus } from "../../../src/gen/keyward/v1/key_pb.js";
import { VerifyCode } from "../../../src/gen/keyward/v1/verify_pb.js";
import type { KeyServiceConnectClient } from "../../support/connect-client.js";
import { startTestService, type TestService } from "../../support/test-service.js";

let t: TestService;
let client: KeyServiceConnectClient;
beforeAll(async () => {
  t = await startTestService();
  client = t.connect();
});
afterAll(async () => {
  await t.stop();
});

async function connectCode(promise: Promise<unknown>): Promise<Code> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error).code;
  }
  throw new Error("expected the call to fail");
}

describe("every RPC over the Connect protocol", () => {
  it("answers each one as the grpc-js port does", async () => {
    const { key, token } = await client.createKey({ name: "Over Connect", scopes: ["read:users"] });
    const id = key?.id ?? "";
    expect((await client.getKey({ id })).key?.name).toBe("Over Connect");
    expect((await client.listKeys({ nameContains: "over connect" })).keys.map((k) => k.id)).toEqual([id]);
    expect((await client.countKeys({ status: KeyStatus.ACTIVE })).count).toBe(1n);
    const updated = await client.updateKey({ id, updateMask: { paths: ["description"] }, description: "via Connect" });
    expect(updated.key?.description).toBe("via Connect");
    const verified = await client.verifyKey({ token, requiredScopes: ["read:users"] });
    expect([verified.valid, verified.code]).toEqual([true, VerifyCode.VALID]);
    await t.service.keys.usage({ id });
    expect((await client.getKeyUsage({ id })).total).toBe(1n);
    expect((await client.listKeyLogs({ id })).logs).toHaveLength(1);
    const rotated = await client.rotateKey({ id, gracePeriodSeconds: 0 });
    expect(rotated.previousKey?.status).toBe(KeyStatus.REVOKED);
    const deleted = await client.deleteKey({ id: rotated.key?.id ?? "", reason: "done" });
    expect(deleted.key?.status).toBe(KeyStatus.REVOKED);
    const audit = await client.listAuditEvents({});
    expect(audit.events.map((e) => e.action)).toEqual(["key.delete", "key.rotate", "key.update", "key.create"]);

    const created = await client.createExport({ resource: ExportResource.API_KEYS });
    expect(created.export).toMatchObject({ state: ExportState.PENDING, matchingRows: 2n });
    const exportId = created.export?.id ?? "";
    const rows: string[] = [];
    for await (const batch of client.streamExportRows({ id: exportId, batchSize: 1 })) {
      rows.push(...batch.keys.map((k) => k.id));
    }
    expect(rows).toHaveLength(2);
    const ready = await client.updateExport({ id: exportId, state: ExportState.READY, rowCount: 2n, byteSize: 10n });
    expect(ready.export?.state).toBe(ExportState.READY);
    expect((await client.getExport({ id: exportId })).export?.rowCount).toBe(2n);
    expect((await client.listExports({})).exports.map((e) => e.id)).toEqual([exportId]);
    const sweep = await client.runSweep({});
    expect(sweep.sweepTime).toBeDefined();
  });

  it("maps failures to the same codes", async () => {
    expect(await connectCode(client.getKey({ id: "01900000-0000-7000-8000-000000000000" }))).toBe(Code.NotFound);
    expect(await connectCode(client.createKey({ name: "" }))).toBe(Code.InvalidArgument);
    expect(await connectCode(t.connect({ token: "wrong" }).listKeys({}))).toBe(Code.Unauthenticated);
    const { key } = await client.createKey({ name: "Revoked over Connect" });
    await client.deleteKey({ id: key?.id ?? "" });
    expect(await connectCode(client.rotateKey({ id: key?.id ?? "", gracePeriodSeconds: 0 }))).toBe(
      Code.FailedPrecondition,
    );
  });
});

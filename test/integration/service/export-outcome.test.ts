import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExportMailState, ExportResource, ExportState } from "../../../src/gen/keyward/v1/export_pb.js";
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

async function newExport(): Promise<string> {
  const created = await client.createExport({ resource: ExportResource.API_KEYS });
  return created.export?.id ?? "";
}

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${t.service.connectPort}/metrics`)).text();
}

describe("an export's mail state", () => {
  it("starts PENDING, and a mail-only update records SENT and when, leaving the export as it was", async () => {
    const id = await newExport();
    const created = (await client.getExport({ id })).export;
    expect(created).toMatchObject({ mailState: ExportMailState.PENDING, mailError: "" });
    expect(created?.mailTime).toBeUndefined();
    await client.updateExport({ id, state: ExportState.READY, rowCount: 7n, byteSize: 120n, attempts: 1 });
    t.clock.advance(5_000);
    const sent = await client.updateExport({ id, mailState: ExportMailState.SENT });
    expect(sent.export).toMatchObject({
      state: ExportState.READY,
      rowCount: 7n,
      byteSize: 120n,
      attempts: 1,
      mailState: ExportMailState.SENT,
      mailError: "",
    });
    const mailTime = sent.export?.mailTime;
    expect(mailTime && timestampMs(mailTime)).toBe(t.clock.now);
    expect((await client.getExport({ id })).export?.mailState).toBe(ExportMailState.SENT);
  });

  it("keeps the reason of a failed mail, and NONE says there was nobody to write to", async () => {
    const id = await newExport();
    await client.updateExport({ id, state: ExportState.READY, rowCount: 1n, byteSize: 10n });
    await client.updateExport({ id, mailState: ExportMailState.PENDING, mailError: "connect ECONNREFUSED" });
    const failed = await client.updateExport({ id, mailState: ExportMailState.FAILED, mailError: "gave up" });
    expect(failed.export).toMatchObject({ mailState: ExportMailState.FAILED, mailError: "gave up" });
    const listed = (await client.listExports({})).exports.find((e) => e.id === id);
    expect(listed).toMatchObject({ state: ExportState.READY, mailState: ExportMailState.FAILED, mailError: "gave up" });

    const other = await newExport();
    const none = await client.updateExport({ id: other, mailState: ExportMailState.NONE, mailError: "ignored" });
    expect(none.export).toMatchObject({ state: ExportState.PENDING, mailState: ExportMailState.NONE, mailError: "" });
  });

  it("refuses an update that names neither a state nor a mail state", async () => {
    const id = await newExport();
    const error = await client.updateExport({ id }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(error?.rawMessage).toContain("state");
  });
});

describe("keyward_export_duration_seconds", () => {
  it("observes each export once, from creation to READY or FAILED, by state", async () => {
    const before = await metrics();
    const ready = await newExport();
    t.clock.advance(42_000);
    await client.updateExport({ id: ready, state: ExportState.READY, rowCount: 1n, byteSize: 1n });
    // Recording the mail afterwards, or READY again, is not a second outcome.
    await client.updateExport({ id: ready, mailState: ExportMailState.SENT });
    await client.updateExport({ id: ready, state: ExportState.READY, rowCount: 1n, byteSize: 1n });

    const failed = await newExport();
    t.clock.advance(3_000);
    await client.updateExport({ id: failed, state: ExportState.PENDING, attempts: 1 });
    await client.updateExport({ id: failed, state: ExportState.FAILED, error: "broken", attempts: 1 });

    const after = await metrics();
    const grew = (series: string) => sample(after, series) - sample(before, series);
    expect(after).toContain("# TYPE keyward_export_duration_seconds histogram");
    expect(grew('keyward_export_duration_seconds_count{state="ready"}')).toBe(1);
    expect(grew('keyward_export_duration_seconds_sum{state="ready"}')).toBe(42);
    expect(grew('keyward_export_duration_seconds_bucket{le="60",state="ready"}')).toBe(1);
    expect(grew('keyward_export_duration_seconds_bucket{le="30",state="ready"}')).toBe(0);
    expect(grew('keyward_export_duration_seconds_count{state="failed"}')).toBe(1);
    expect(grew('keyward_export_duration_seconds_sum{state="failed"}')).toBe(3);
  });
});

/** The value of one series in a Prometheus text page; 0 when it is not there yet. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

import { readdirSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import {
  captureLogger,
  eventually,
  freePort,
  type ServiceProxy,
  type Stack,
  sleep,
  startServiceProxy,
  startStack,
} from "./harness.js";

let s: Stack | undefined;
let proxy: ServiceProxy | undefined;
afterEach(async () => {
  await s?.close();
  await proxy?.close();
  s = undefined;
  proxy = undefined;
});

/** The export's files in the exports dir, receipts and temporary files included. */
const filesOf = (stack: Stack, id: string) =>
  readdirSync(stack.exportsDir)
    .filter((n) => n.includes(id))
    .sort();

describe("export retries", () => {
  it("a first attempt that breaks midway is retried, and yields one file and one mail", async () => {
    s = await startStack({ workers: false });
    // The first stream is cut after 20 KB: a half-written temporary file that must not survive.
    proxy = await startServiceProxy(s.serviceUrl, {
      cutAfterBytes: (rpc, nth) => (rpc === "StreamExportRows" && nth === 1 ? 20_000 : undefined),
    });
    await s.startWorkers({ serviceUrl: proxy.url, exportBackoffMs: 200 });
    await s.seedKeys(1001, { subject: "retry" });

    const { body } = await s.trpc("exports.create", { resource: "api_keys", filters: { subject: "retry" } });
    const id = body.result?.data.export.id as string;
    const [mail] = await s.smtp.waitFor(1);
    expect(mail?.subject).toBe("Your Keyward export is ready (1,001 rows)");

    // Give a duplicate every chance to show up.
    await sleep(1500);
    expect(s.smtp.mails).toHaveLength(1);
    expect(proxy.calls.StreamExportRows).toBe(2);
    expect(filesOf(s, id)).toEqual([`.${id}.ready.mailed`, `${id}.csv`]);
    const got = await s.trpc("exports.get", { id }, s.adminToken, "GET");
    expect(got.body.result?.data).toMatchObject({ state: "ready", rowCount: 1001, attempts: 2, error: null });
  });

  it("a job run again after it succeeded (a stalled job picked up again) sends no second mail", async () => {
    s = await startStack();
    await s.seedKeys(1001, { subject: "again" });
    const { body } = await s.trpc("exports.create", { resource: "api_keys", filters: { subject: "again" } });
    const id = body.result?.data.export.id as string;
    await s.smtp.waitFor(1);

    // The same job id again, as after a lost completion: the queue or the processor must make it a no-op.
    const { Queue } = await import("bullmq");
    const { EXPORT_JOB, EXPORT_QUEUE, workerConnection } = await import("../../../src/shared/queues/queues.js");
    const queue = new Queue(EXPORT_QUEUE, { connection: workerConnection(s.config.REDIS_URL), prefix: s.prefix });
    const job = await queue.getJob(id);
    await job?.remove();
    const again = await queue.add(EXPORT_JOB, { exportId: id }, { jobId: id });
    const result = await eventually(async () => {
      expect(await again.getState()).toBe("completed");
      return (await queue.getJob(id))?.returnvalue;
    });
    expect(result).toEqual({ outcome: "skipped", reason: "already-ready" });
    await sleep(500);
    await queue.close();
    expect(s.smtp.mails).toHaveLength(1);
    expect(filesOf(s, id)).toEqual([`.${id}.ready.mailed`, `${id}.csv`]);
  });

  it("after the last attempt the export is FAILED and the admin gets one mail saying so", async () => {
    s = await startStack({ workers: false });
    proxy = await startServiceProxy(s.serviceUrl, { refuse: (rpc) => rpc === "StreamExportRows" });
    // 5 attempts, 50 ms doubling: about 0.75 s of backoff in all.
    await s.startWorkers({ serviceUrl: proxy.url, exportBackoffMs: 50 });
    await s.seedKeys(1001, { subject: "doomed" });

    const { body } = await s.trpc("exports.create", { resource: "api_keys", filters: { subject: "doomed" } });
    const id = body.result?.data.export.id as string;
    const [mail] = await s.smtp.waitFor(1);
    expect(mail?.subject).toBe("Your Keyward export failed");
    expect(mail?.text).toContain("failed after 5 attempts");
    expect(mail?.text).toContain("the key service was unavailable while the rows were read");

    await sleep(1000);
    expect(s.smtp.mails).toHaveLength(1);
    expect(proxy.calls.StreamExportRows).toBe(5);
    const got = await s.trpc("exports.get", { id }, s.adminToken, "GET");
    expect(got.body.result?.data).toMatchObject({
      state: "failed",
      attempts: 5,
      error: "the key service was unavailable while the rows were read",
    });
    expect(filesOf(s, id)).toEqual([`.${id}.failed.mailed`]);
  });

  it("with SMTP down the export is READY and records that its mail was given up, with a warning", async () => {
    const capture = captureLogger("warn");
    // Nothing listens there: every send is refused.
    s = await startStack({
      workers: false,
      logger: capture.logger,
      env: { SMTP_URL: `smtp://127.0.0.1:${await freePort()}` },
    });
    await s.startWorkers({ exportBackoffMs: 50 });
    await s.seedKeys(1001, { subject: "no-smtp" });
    const { body } = await s.trpc("exports.create", { resource: "api_keys", filters: { subject: "no-smtp" } });
    const id = body.result?.data.export.id as string;

    const data = await eventually(async () => {
      const got = await s?.trpc("exports.get", { id }, s.adminToken, "GET");
      expect(got?.body.result?.data.mailState).toBe("failed");
      return got?.body.result?.data;
    }, 20_000);
    expect(data).toMatchObject({ state: "ready", rowCount: 1001, error: null });
    expect(data.mailError).toMatch(/ECONNREFUSED/);
    expect(Date.parse(data.mailTime)).not.toBeNaN();
    // The file is still reachable: the answer carries its link.
    expect((await s.download(data.downloadUrl)).status).toBe(200);
    const warning = capture.lines().find((l) => l.msg === "gave up on the export's mail: the admin was not told");
    expect(warning).toMatchObject({ level: 40, exportId: id });
    expect(filesOf(s, id)).toEqual([`${id}.csv`]);
  });
});

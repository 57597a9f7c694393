import { mkdirSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ChildWorkers,
  eventually,
  type ServiceProxy,
  type Stack,
  sleep,
  startChildWorkers,
  startServiceProxy,
  startStack,
  TEST_STALL_DETECTION,
} from "./harness.js";

let s: Stack | undefined;
let proxy: ServiceProxy | undefined;
const children: ChildWorkers[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) await child.kill();
  await s?.close();
  await proxy?.close();
  s = undefined;
  proxy = undefined;
});

const never = new Promise<void>(() => undefined);
const tempFiles = (stack: Stack) => readdirSync(stack.exportsDir).filter((n) => n.endsWith(".tmp"));
const filesOf = (stack: Stack, id: string) =>
  readdirSync(stack.exportsDir)
    .filter((n) => n.includes(id))
    .sort();

/** Workers in a process of their own, caught writing the export's file (the rows held by the proxy), then killed. */
async function killMidWrite(stack: Stack, via: ServiceProxy, nth: number): Promise<void> {
  const child = await startChildWorkers(stack, via.url);
  children.push(child);
  await eventually(() => {
    expect(via.calls.StreamExportRows).toBe(nth);
    // The one temporary file of this attempt: the previous attempt's was removed when this one started.
    expect(tempFiles(stack)).toHaveLength(1);
  }, 20_000);
  await child.kill();
}

describe("workers killed with kill -9 while an export runs", () => {
  it("an export whose workers are killed twice mid-write ends READY, with one mail and no temporary file", async () => {
    s = await startStack({ workers: false });
    // The first two attempts never get their rows: each is killed while writing.
    proxy = await startServiceProxy(s.serviceUrl, {
      hold: (rpc, nth) => (rpc === "StreamExportRows" && nth <= 2 ? never : undefined),
    });
    await s.seedKeys(1001, { subject: "killed-twice" });
    const { body } = await s.trpc("exports.create", { resource: "api_keys", filters: { subject: "killed-twice" } });
    const id = body.result?.data.export.id as string;

    await killMidWrite(s, proxy, 1);
    await killMidWrite(s, proxy, 2);
    await s.startWorkers({ serviceUrl: proxy.url, stallDetection: TEST_STALL_DETECTION });

    const [mail] = await s.smtp.waitFor(1, () => true, 30_000);
    expect(mail?.subject).toBe("Your Keyward export is ready (1,001 rows)");
    await sleep(1500);
    expect(s.smtp.mails).toHaveLength(1);
    expect(proxy.calls.StreamExportRows).toBe(3);
    expect(filesOf(s, id)).toEqual([`.${id}.ready.mailed`, `${id}.csv`]);
    await eventually(async () => {
      const got = await s?.trpc("exports.get", { id }, s.adminToken, "GET");
      expect(got?.body.result?.data).toMatchObject({ state: "ready", rowCount: 1001, error: null, mailState: "sent" });
    });
  }, 90_000);

  it("an export whose workers are killed every time ends FAILED, with one mail saying so and no temporary file", async () => {
    s = await startStack({ workers: false });
    proxy = await startServiceProxy(s.serviceUrl, { hold: (rpc) => (rpc === "StreamExportRows" ? never : undefined) });
    await s.seedKeys(1001, { subject: "killed-always" });
    const { body } = await s.trpc("exports.create", { resource: "api_keys", filters: { subject: "killed-always" } });
    const id = body.result?.data.export.id as string;

    // Killed three times: more than the two stalls an export job is allowed.
    for (const nth of [1, 2, 3]) await killMidWrite(s, proxy, nth);
    await s.startWorkers({ serviceUrl: proxy.url, stallDetection: TEST_STALL_DETECTION });

    const [mail] = await s.smtp.waitFor(1, () => true, 30_000);
    expect(mail?.subject).toBe("Your Keyward export failed");
    expect(mail?.text).toContain("the export was interrupted 3 times");
    await sleep(1500);
    expect(s.smtp.mails).toHaveLength(1);
    // The job was not run a fourth time: it had taken its worker down too often.
    expect(proxy.calls.StreamExportRows).toBe(3);
    expect(filesOf(s, id)).toEqual([`.${id}.failed.mailed`]);
    await eventually(async () => {
      const got = await s?.trpc("exports.get", { id }, s.adminToken, "GET");
      expect(got?.body.result?.data).toMatchObject({
        state: "failed",
        error: "the export was interrupted 3 times: its worker stopped (crashed or was killed) while producing it",
        mailState: "sent",
        downloadUrl: null,
      });
    });
  }, 90_000);

  it("the maintenance sweep removes temporary files no write can still own, and keeps a fresh one", async () => {
    s = await startStack();
    mkdirSync(s.exportsDir, { recursive: true });
    const stale = join(s.exportsDir, ".01900000-0000-7000-8000-0000000000aa.0a0b0c0d0e0f.tmp");
    const fresh = join(s.exportsDir, ".01900000-0000-7000-8000-0000000000bb.0a0b0c0d0e0f.tmp");
    writeFileSync(stale, "id,name\r\n");
    writeFileSync(fresh, "id,name\r\n");
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(stale, twoHoursAgo, twoHoursAgo);

    const swept = await s.sweepNow();
    expect(swept.deletedTempFiles).toBe(1);
    expect(tempFiles(s)).toEqual([".01900000-0000-7000-8000-0000000000bb.0a0b0c0d0e0f.tmp"]);
  });
});

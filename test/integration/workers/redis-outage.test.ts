import { Queue } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import { EXPORT_QUEUE, workerConnection } from "../../../src/shared/queues/queues.js";
import {
  captureLogger,
  eventually,
  linkIn,
  type OwnRedis,
  ownRedis,
  parseCsv,
  type ServiceProxy,
  type Stack,
  startServiceProxy,
  startStack,
} from "./harness.js";

let redis: OwnRedis | undefined;
let s: Stack | undefined;
let proxy: ServiceProxy | undefined;
afterEach(async () => {
  await s?.close();
  await proxy?.close();
  await redis?.stop();
  s = undefined;
  proxy = undefined;
  redis = undefined;
});

type Line = Record<string, unknown>;
const unreachable = (lines: Line[]) => lines.filter((l) => String(l.msg).startsWith("REDIS IS UNREACHABLE"));
const back = (lines: Line[]) => lines.filter((l) => String(l.msg).startsWith("Redis is back"));

async function createBig(stack: Stack, subject: string) {
  const started = performance.now();
  const res = await stack.trpc("exports.create", { resource: "api_keys", filters: { subject } });
  return { ...res, ms: performance.now() - started };
}

describe("with Redis down", () => {
  it("at start: everything starts, says so once, refuses large exports at once with 503, and resumes when Redis comes", async () => {
    redis = await ownRedis();
    const log = captureLogger();
    const startedAt = performance.now();
    s = await startStack({ redisUrl: redis.url, redisMayBeDown: true, logger: log.logger });
    expect(performance.now() - startedAt).toBeLessThan(5_000);
    await s.seedKeys(1001, { subject: "outage" });

    // Small exports need no queue and keep working.
    const small = await s.trpc("exports.create", { resource: "api_keys", filters: { subject: "nobody" } });
    expect(small.status).toBe(200);
    expect(small.body.result?.data.export.state).toBe("ready");

    const refused = await createBig(s, "outage");
    expect(refused.status).toBe(503);
    expect(refused.ms).toBeLessThan(3_000);
    expect(refused.body.error?.message).toContain("Redis is down");
    // The refused export is not left PENDING for a job that will never come.
    const listed = await s.trpc("exports.list", { state: "failed" }, s.adminToken, "GET");
    expect(listed.body.result?.data.exports).toHaveLength(1);

    // A few reconnect attempts later, still one loud line per part (gateway, workers).
    await new Promise((r) => setTimeout(r, 2_500));
    expect(unreachable(log.lines())).toHaveLength(2);
    expect(unreachable(log.lines())[0]?.level).toBe(50);

    await redis.start();
    await eventually(() => expect(back(log.lines())).toHaveLength(2), 15_000);
    const accepted = await createBig(s, "outage");
    expect(accepted.status).toBe(200);
    expect(accepted.body.result?.data.export.state).toBe("pending");
    const [mail] = await s.smtp.waitFor(1);
    expect((await s.download(linkIn(mail))).status).toBe(200);
  });

  it("stopped and restarted during an export: the export is still delivered, once", async () => {
    redis = await ownRedis();
    await redis.start();
    s = await startStack({ redisUrl: redis.url, workers: false, logger: captureLogger().logger });
    // Hold the first export stream until Redis has gone and come back.
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    proxy = await startServiceProxy(s.serviceUrl, {
      hold: (rpc, nth) => (rpc === "StreamExportRows" && nth === 1 ? released : undefined),
    });
    await s.startWorkers({ serviceUrl: proxy.url });
    await s.seedKeys(1001, { subject: "mid" });

    const created = await createBig(s, "mid");
    expect(created.status).toBe(200);
    const id = created.body.result?.data.export.id as string;
    await eventually(() => expect(proxy?.calls.StreamExportRows).toBe(1));

    await redis.crash();
    await new Promise((r) => setTimeout(r, 1_500));
    await redis.start();
    release();

    const [mail] = await s.smtp.waitFor(1);
    expect(mail?.subject).toBe("Your Keyward export is ready (1,001 rows)");
    const file = await s.download(linkIn(mail));
    expect(parseCsv(file.text)).toHaveLength(1002);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(s.smtp.mails).toHaveLength(1);
    const got = await s.trpc("exports.get", { id }, s.adminToken, "GET");
    expect(got.body.result?.data).toMatchObject({ state: "ready", rowCount: 1001 });

    // The queue itself recovers: the job that ran through the outage ends completed, not stuck.
    const queue = new Queue(EXPORT_QUEUE, { connection: workerConnection(redis.url), prefix: s.prefix });
    try {
      await eventually(async () => expect(await queue.getJobState(id)).toBe("completed"), 20_000);
    } finally {
      await queue.close();
    }
  });

  it("closing the workers while Redis is away takes moments, not forever", async () => {
    redis = await ownRedis();
    await redis.start();
    s = await startStack({ redisUrl: redis.url, logger: captureLogger().logger });
    await redis.crash();
    await new Promise((r) => setTimeout(r, 1_200));
    const started = performance.now();
    await s.workers?.close();
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});

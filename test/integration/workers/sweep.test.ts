import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyStatus } from "../../../src/gen/keyward/v1/key_pb.js";
import { asActor } from "../../../src/shared/contract/service-client.js";
import { eventually, type Stack, sleep, startStack } from "./harness.js";

const DAY = 86_400_000;

/**
 * One timeline under a moved clock (no waiting): keys made at t0, sweeps at
 * t0+31, +31 again, +61 and +91 days, with inactivity at 30 days,
 * auto-revoke at 60, rotation at 90 and log retention at 30.
 */
let s: Stack;
const ids: Record<string, string> = {};
const tokens: Record<string, string> = {};

beforeAll(async () => {
  s = await startStack({
    env: {
      KEYWARD_INACTIVE_DAYS: "30",
      KEYWARD_AUTO_REVOKE_DAYS: "60",
      KEYWARD_ROTATION_DAYS: "90",
      KEYWARD_LOG_RETENTION_DAYS: "30",
    },
  });
  const make = async (name: string, extra: { expiresInSeconds?: number; enabled?: boolean } = {}) => {
    const created = await s.direct.createKey({ name, subject: "sweep", ...extra }, asActor("test"));
    ids[name] = created.key?.id as string;
    tokens[name] = created.token;
  };
  await make("used");
  await make("idle");
  await make("expiring", { expiresInSeconds: 86_400 });
  await make("disabled", { enabled: false });
  // Three verifications of "used" at t0: the logs the first sweep prunes.
  for (let i = 0; i < 3; i++) await s.direct.verifyKey({ token: tokens.used as string });
});
afterAll(async () => {
  await s?.close();
});

/** The admin signs in (a gateway call), so their key is used at the moved time and stays active. */
async function adminActs() {
  const me = await s.trpc("me", undefined, s.adminToken, "GET");
  expect(me.status).toBe(200);
}

const digests = () => s.smtp.mails.filter((m) => m.subject.startsWith("Keyward:"));
const sorted = (names: string[]) => names.map((n) => ids[n]).sort();

describe("maintenance sweep", () => {
  it("at +31 days: marks the unused keys inactive, counts the expired key, prunes old logs, mails the admins", async () => {
    s.clock.advance(31 * DAY);
    await adminActs();
    await s.direct.verifyKey({ token: tokens.used as string });
    ids.member = (await s.direct.listKeys({ scope: "console:member" })).keys[0]?.id as string;

    const swept = await s.sweepNow();
    // "used" was used today, "expiring" expired, "disabled" is disabled: none of them is inactive.
    expect([...swept.newlyInactive].sort()).toEqual(sorted(["idle", "member"]));
    expect(swept.autoRevoked).toEqual([]);
    expect(swept.rotationDue).toEqual([]);
    expect(swept.expiredKeys).toBe(1);
    expect(swept.prunedLogs).toBe(3);
    expect(swept.mailedTo).toEqual(["admin@example.com"]);

    const logs = await s.direct.listKeyLogs({ id: ids.used as string });
    expect(logs.logs).toHaveLength(1);
    expect((await s.direct.getKey({ id: ids.idle as string })).key?.status).toBe(KeyStatus.INACTIVE);

    const [mail] = await s.smtp.waitFor(1, (m) => m.subject.startsWith("Keyward:"));
    expect(mail?.to).toEqual(["admin@example.com"]);
    expect(mail?.subject).toBe("Keyward: 2 keys became inactive");
    expect(mail?.text).toContain(`idle (${ids.idle}, subject sweep), last used never`);
    expect(mail?.text).toContain("1 key reached its expiry since the last sweep.");
    expect(mail?.html).toContain("<strong>idle</strong>");
    expect(mail?.text).not.toContain(tokens.idle);
  });

  it("right after: nothing new, so no mail", async () => {
    const swept = await s.sweepNow();
    expect(swept).toMatchObject({
      newlyInactive: [],
      autoRevoked: [],
      rotationDue: [],
      expiredKeys: 0,
      prunedLogs: 0,
      mailedTo: [],
    });
    await sleep(300);
    expect(digests()).toHaveLength(1);
  });

  it("at +61 days: revokes the keys unused for 60 days with reason inactive, and says so", async () => {
    s.clock.advance(30 * DAY);
    await adminActs();
    await s.direct.verifyKey({ token: tokens.used as string });

    const swept = await s.sweepNow();
    expect([...swept.autoRevoked].sort()).toEqual(sorted(["idle", "member", "disabled"]));
    expect(swept.newlyInactive).toEqual([]);
    expect(swept.rotationDue).toEqual([]);
    const idle = (await s.direct.getKey({ id: ids.idle as string })).key;
    expect(idle?.status).toBe(KeyStatus.REVOKED);
    expect(idle?.revocationReason).toBe("inactive");
    expect((await s.direct.verifyKey({ token: tokens.idle as string })).valid).toBe(false);
    expect((await s.direct.getKey({ id: ids.used as string })).key?.status).toBe(KeyStatus.ACTIVE);

    const mails = await s.smtp.waitFor(2, (m) => m.subject.startsWith("Keyward:"));
    expect(mails[1]?.subject).toBe("Keyward: 3 keys revoked for inactivity");
  });

  it("at +91 days: reports the keys older than the rotation age once, and the newly inactive one", async () => {
    s.clock.advance(30 * DAY);
    await adminActs();

    const swept = await s.sweepNow();
    expect(swept.newlyInactive).toEqual([ids.used]);
    expect(swept.autoRevoked).toEqual([]);
    const admin = (await s.direct.listKeys({ scope: "console:admin" })).keys[0]?.id as string;
    expect([...swept.rotationDue].sort()).toEqual([admin, ids.used].sort());

    const mails = await s.smtp.waitFor(3, (m) => m.subject.startsWith("Keyward:"));
    expect(mails[2]?.subject).toBe("Keyward: 1 key became inactive, 2 keys due for rotation");

    // Each key is reported once.
    const again = await s.sweepNow();
    expect(again.rotationDue).toEqual([]);
    await sleep(300);
    expect(digests()).toHaveLength(3);
  });
});

describe("maintenance schedule", () => {
  it("is one schedule, at KEYWARD_SWEEP_EVERY, however many workers run", async () => {
    const t = await startStack({ workers: false, env: { KEYWARD_SWEEP_EVERY: "15m" } });
    try {
      await t.startWorkers({ scheduleSweeps: true });
      await t.startWorkers({ scheduleSweeps: true });
      await t.startWorkers({ scheduleSweeps: true });
      const { Queue } = await import("bullmq");
      const { SWEEP_QUEUE, SWEEP_SCHEDULER_ID, workerConnection } = await import(
        "../../../src/shared/queues/queues.js"
      );
      const queue = new Queue(SWEEP_QUEUE, { connection: workerConnection(t.config.REDIS_URL), prefix: t.prefix });
      try {
        const schedulers = await eventually(async () => {
          const list = await queue.getJobSchedulers();
          expect(list).toHaveLength(1);
          return list;
        });
        expect(schedulers[0]).toMatchObject({ key: SWEEP_SCHEDULER_ID, every: 15 * 60_000 });
        // One pending sweep, not one per worker.
        expect(await queue.getDelayedCount()).toBe(1);
      } finally {
        await queue.close();
      }
    } finally {
      await t.close();
    }
  });
});

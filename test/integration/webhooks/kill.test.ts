import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asActor } from "../../../src/shared/contract/service-client.js";
import { type ChildWorkers, type Stack, startChildWorkers, startStack } from "../workers/harness.js";
import { type Received, type Receiver, signatureHeaders, startReceiver } from "./receiver.js";

/**
 * kill -9 of the workers while a delivery is in flight loses nothing: the
 * events are in the service's outbox, the held delivery's job is taken up
 * again by the next workers (its lock lapses), and events recorded while no
 * workers ran are relayed when they start. At least once: the interrupted
 * delivery may arrive twice, never not at all, and each key's stay in order.
 */
let s: Stack;
let receiver: Receiver;
const admin = asActor({ name: "admin@example.com" });
const CHILD_ENV = { KEYWARD_TEST_WEBHOOK_DELAYS: "200,200,200,200" };

beforeAll(async () => {
  s = await startStack({ workers: false });
  receiver = await startReceiver();
});
afterAll(async () => {
  await s?.close();
  await receiver?.close();
});

describe("webhook delivery across a kill -9 of the workers", () => {
  it("delivers every event, in order per key, after the workers die mid-delivery", async () => {
    const { secret } = await s.direct.createWebhookEndpoint({ url: receiver.url }, admin);
    let release: () => void = () => {};
    const held = new Promise<number>((resolve) => {
      release = () => resolve(200);
    });
    // The first event of "victim" is held: its delivery is in flight when the workers die.
    receiver.policy = (r) => (r.json?.data?.key?.name === "victim" && r.json.type === "key.created" ? held : 200);

    let workers: ChildWorkers | undefined = await startChildWorkers(s, s.serviceUrl, CHILD_ENV);
    try {
      const victim = (await s.direct.createKey({ name: "victim" }, admin)).key?.id as string;
      const others: string[] = [];
      for (let i = 0; i < 5; i++)
        others.push((await s.direct.createKey({ name: `other ${i}` }, admin)).key?.id as string);
      await receiver.waitFor(1, (r) => r.json?.data?.key?.id === victim);
      await s.direct.updateKey({ id: victim, updateMask: { paths: ["description"] }, description: "after" }, admin);
      await workers.kill();
      workers = undefined;

      // Events while no workers run: recorded, waiting in the outbox.
      for (const id of [victim, ...others]) {
        await s.direct.updateKey({ id, updateMask: { paths: ["enabled"] }, enabled: false }, admin);
      }
      release();
      receiver.policy = () => 200;

      workers = await startChildWorkers(s, s.serviceUrl, CHILD_ENV);
      const byKey = (id: string) => (r: Received) => r.json?.data?.key?.id === id && r.status === 200;
      const victimSeen = await receiver.waitFor(3, byKey(victim), 30_000);
      expect(victimSeen.map((r) => r.json.type)).toEqual(["key.created", "key.updated", "key.disabled"]);
      for (const id of others) {
        const seen = await receiver.waitFor(2, byKey(id), 30_000);
        // At least once: a duplicate may come, but never out of order.
        const types = seen.map((r) => r.json.type).filter((t, i, all) => i === 0 || all[i - 1] !== t);
        expect(types).toEqual(["key.created", "key.disabled"]);
      }
      for (const r of receiver.delivered()) {
        expect(() => new Webhook(secret).verify(r.body, signatureHeaders(r))).not.toThrow();
      }
      // The interrupted attempt hung up without an answer: the sender saw no 200 for it.
      expect(receiver.requests.some((r) => r.json?.data?.key?.id === victim && r.status === -1)).toBe(true);
    } finally {
      await workers?.kill();
    }
  });
});

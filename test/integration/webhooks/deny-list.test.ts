import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebhookAttemptStatus } from "../../../src/gen/keyward/v1/webhook_pb.js";
import { asActor } from "../../../src/shared/contract/service-client.js";
import { eventually, type Stack, sleep, startStack } from "../workers/harness.js";
import { type Receiver, startReceiver } from "./receiver.js";

const admin = asActor({ name: "admin@example.com" });
const REFUSAL = "refused: 127.0.0.1 is in KEYWARD_WEBHOOK_DENY_CIDRS";

/**
 * The workers' own check, at connect time: their deny list covers the
 * loopback where a real receiver listens. The service's list (the default)
 * lets one endpoint name 127.0.0.1 itself, as one registered before the list
 * was changed would; the other names `localhost`, which the service never
 * resolves, so only the address the workers resolve it to can stop it.
 */
describe("webhook deliveries to an address in the workers' KEYWARD_WEBHOOK_DENY_CIDRS", () => {
  let s: Stack;
  let receiver: Receiver;

  beforeAll(async () => {
    s = await startStack({
      workerEnv: { KEYWARD_WEBHOOK_DENY_CIDRS: "127.0.0.0/8" },
      workerOptions: { webhookRetryDelaysMs: [100, 100], relayWaitMs: 200 },
    });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await s?.close();
    await receiver?.close();
  });

  it("never reach the receiver: every attempt fails with the refusal, retried like any failure", async () => {
    const literal = await s.direct.createWebhookEndpoint({ url: receiver.url, eventTypes: ["key.created"] }, admin);
    const byName = await s.direct.createWebhookEndpoint(
      { url: receiver.url.replace("://127.0.0.1:", "://localhost:"), eventTypes: ["key.created"] },
      admin,
    );
    await s.direct.createKey({ name: "to nowhere" }, admin);
    for (const endpoint of [literal, byName]) {
      const endpointId = endpoint.endpoint?.id as string;
      // The harness's own keys' key.created may still be on their way too: every event the endpoint got counts.
      const attempts = await eventually(async () => {
        const page = await s.direct.listWebhookAttempts({ endpointId });
        const events = new Set(page.attempts.map((a) => a.eventId));
        const finished = new Set(page.attempts.filter((a) => a.attempt === 3).map((a) => a.eventId));
        expect(events.size).toBeGreaterThan(0);
        expect(finished).toEqual(events);
        return page.attempts;
      });
      for (const a of attempts)
        expect([a.status, a.responseCode, a.error]).toEqual([WebhookAttemptStatus.FAILED, 0, REFUSAL]);
      const eventId = attempts[0]?.eventId;
      expect(attempts.filter((a) => a.eventId === eventId).map((a) => a.attempt)).toEqual([3, 2, 1]);
    }
    // Nothing late either: the last attempts were recorded after their refusals, and the schedule of two
    // retries ended each delivery at its third attempt (no fourth, whatever a job's default attempts are).
    await sleep(300);
    expect(receiver.requests).toHaveLength(0);
    for (const endpoint of [literal, byName]) {
      const page = await s.direct.listWebhookAttempts({ endpointId: endpoint.endpoint?.id as string });
      expect(Math.max(...page.attempts.map((a) => a.attempt))).toBe(3);
    }
  });
});

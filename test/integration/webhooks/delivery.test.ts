import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebhookAttemptStatus } from "../../../src/gen/keyward/v1/webhook_pb.js";
import { asActor } from "../../../src/shared/contract/service-client.js";
import { eventually, type Stack, startStack } from "../workers/harness.js";
import { type Receiver, signatureHeaders, startReceiver } from "./receiver.js";

/**
 * Webhooks end to end: endpoints registered with the service, events recorded
 * with the change, relayed by the workers, POSTed signed to a real receiver in
 * this process, every attempt recorded; retries on a short schedule.
 */
let s: Stack;
let receiver: Receiver;

beforeAll(async () => {
  s = await startStack({ workerOptions: { webhookRetryDelaysMs: [100, 200, 300], relayWaitMs: 200 } });
  receiver = await startReceiver();
});
afterAll(async () => {
  await s?.close();
  await receiver?.close();
});

const admin = asActor({ name: "admin@example.com" });
const text = (value: unknown) => JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? String(v) : v));

describe("webhook delivery", () => {
  let endpointId = "";
  let secret = "";

  it("registers an endpoint with a Standard Webhooks secret shown once", async () => {
    const created = await s.direct.createWebhookEndpoint({ url: receiver.url, description: "test" }, admin);
    endpointId = created.endpoint?.id ?? "";
    secret = created.secret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const got = await s.direct.getWebhookEndpoint({ id: endpointId });
    expect(text(got)).not.toContain(secret.slice(6));
    const listed = await s.direct.listWebhookEndpoints({});
    expect(listed.endpoints.map((e) => e.id)).toContain(endpointId);
    expect(text(listed)).not.toContain(secret.slice(6));
  });

  it("delivers key.created signed, verifiable with the reference check, without the token", async () => {
    const created = await s.direct.createKey({ name: "hooked", claims: { email: "owner@example.com" } }, admin);
    const keyId = created.key?.id as string;
    const [request] = await receiver.waitFor(1, (r) => r.json?.data?.key?.id === keyId);
    expect(request?.json.type).toBe("key.created");
    expect(request?.headers["content-type"]).toBe("application/json");
    const verified = new Webhook(secret).verify(request?.body as string, signatureHeaders(request!)) as {
      type: string;
      timestamp: string;
      data: { key: { id: string; name: string; tokenHint: string } };
    };
    expect(verified.data.key.name).toBe("hooked");
    expect(verified.data.key.tokenHint).toMatch(/^kw_/);
    expect(request?.body).not.toContain(created.token);
    expect(request?.headers["webhook-id"]).toMatch(/^msg_[0-9a-f]{32}$/);
    // A wrong secret does not verify.
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString("base64")}`).verify(request!.body, signatureHeaders(request!))).toThrow();

    const attempts = await eventually(async () => {
      const page = await s.direct.listWebhookAttempts({ endpointId });
      expect(page.attempts.length).toBeGreaterThan(0);
      return page;
    });
    const attempt = attempts.attempts.find((a) => a.eventId === request?.headers["webhook-id"]);
    expect(attempt?.status).toBe(WebhookAttemptStatus.SUCCEEDED);
    expect(attempt?.responseCode).toBe(200);
    expect(attempt?.attempt).toBe(1);
  });

  it("retries a failing endpoint and records every attempt", async () => {
    let failures = 0;
    receiver.policy = (r) => {
      if (r.json?.data?.key?.name === "flaky" && failures < 2) {
        failures++;
        return 500;
      }
      return 200;
    };
    const created = await s.direct.createKey({ name: "flaky" }, admin);
    const keyId = created.key?.id as string;
    const got = await receiver.waitFor(3, (r) => r.json?.data?.key?.id === keyId);
    expect(got.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(new Set(got.map((r) => r.headers["webhook-id"])).size).toBe(1);
    const eventId = String(got[0]?.headers["webhook-id"]);
    const attempts = await eventually(async () => {
      const page = await s.direct.listWebhookAttempts({ endpointId, eventId });
      expect(page.attempts).toHaveLength(3);
      return page.attempts;
    });
    // Newest first.
    expect(attempts.map((a) => [a.attempt, a.responseCode, a.status])).toEqual([
      [3, 200, WebhookAttemptStatus.SUCCEEDED],
      [2, 500, WebhookAttemptStatus.FAILED],
      [1, 500, WebhookAttemptStatus.FAILED],
    ]);
    expect(attempts[1]?.error).toContain("HTTP 500");
    receiver.policy = () => 200;
  });
});

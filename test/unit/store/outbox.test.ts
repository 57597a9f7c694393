import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keyEvent, newEvent } from "../../../src/service/events/payloads.js";
import type { AttemptOutcome, EventRecord, WebhookEndpointRecord } from "../../../src/service/keys/model.js";
import type { KeyStore } from "../../../src/service/store/key-store.js";
import { DAY_MS, makeAudit, makeKey, NOW, nextId, storeBackends, type TempStore } from "./store-fixtures.js";

/**
 * The outbox and the webhook tables, the same on both stores: events go in
 * with their change; the relay hands them out once and offers every delivery
 * until told it was queued (a relay that dies in between loses nothing); the
 * deliveries of one endpoint and key go one at a time; attempts end them.
 */
describe.each(storeBackends())("$name store: the outbox", (backend) => {
  let temp: TempStore;
  let store: KeyStore;

  beforeEach(async () => {
    temp = await backend.open();
    store = temp.store;
  });
  afterEach(async () => {
    await temp.cleanup();
  });

  const endpoint = (overrides: Partial<WebhookEndpointRecord> = {}): WebhookEndpointRecord => ({
    id: nextId("ep"),
    url: "https://hooks.example.com/x",
    description: "",
    eventTypes: [],
    enabled: true,
    secret: "whsec_c2VjcmV0",
    createdBy: "admin@example.com",
    createdAt: NOW,
    updatedAt: NOW,
    disabledReason: null,
    failingSince: null,
    version: 1,
    ...overrides,
  });
  const relay = (queued: number[] = [], resync = false, mail: string[] = []) =>
    store.relayWebhooks({ at: NOW, queuedDeliveryIds: queued, queuedMailEventIds: mail, limit: 100, resync });
  const outcome = (over: Partial<AttemptOutcome> = {}): AttemptOutcome => ({
    succeeded: true,
    final: false,
    receiverFailed: true,
    disableIfFailingSince: NOW - 3 * DAY_MS,
    disabledReason: "failing",
    disabledEvent: newEvent("webhook_endpoint.disabled", NOW, {}, { mail: true }),
    disabledAudit: makeAudit({ action: "webhook.auto_disable", actor: "service" }),
    ...over,
  });
  async function attempt(
    deliveryId: number,
    endpointId: string,
    succeeded: boolean,
    at = NOW,
    final = false,
    receiverFailed = true,
  ) {
    return store.recordWebhookAttempt(
      {
        deliveryId,
        endpointId,
        eventId: "msg_x",
        eventType: "key.created",
        attempt: 1,
        at,
        succeeded,
        responseCode: succeeded ? 200 : 500,
        durationMs: 3,
        error: succeeded ? null : "HTTP 500",
        manual: false,
      },
      outcome({ succeeded, final, receiverFailed, disableIfFailingSince: at - 3 * DAY_MS }),
    );
  }

  it("records a key's events with its write and hands each to the endpoints that want it, once", async () => {
    const all = endpoint();
    const revokedOnly = endpoint({ eventTypes: ["key.revoked"] });
    const off = endpoint({ enabled: false });
    for (const e of [all, revokedOnly, off])
      await store.insertWebhookEndpoint(e, makeAudit({ action: "webhook.create" }));
    const key = makeKey();
    const created = keyEvent("key.created", key, NOW, 30);
    await store.insertKey(key, makeAudit({ keyId: key.id }), [created]);
    const revoked = { ...key, revokedAt: NOW, version: 2 };
    const revokedEvent = keyEvent("key.revoked", revoked, NOW, 30);
    await store.updateKey(revoked, makeAudit({ keyId: key.id, action: "key.delete" }), { events: [revokedEvent] });
    expect((await store.getEvent(created.id))?.data).toEqual(created.data);

    const first = await relay();
    // all: created (the head of its key), then revoked waits behind it; revokedOnly: revoked.
    const deliveries = await Promise.all(first.deliveryIds.map((id) => store.getWebhookDelivery(id)));
    expect(deliveries.map((d) => d?.endpointId).sort()).toEqual([all.id, revokedOnly.id].sort());
    // Not acknowledged: offered again (the relay died before saying it queued them).
    expect((await relay()).deliveryIds).toEqual(first.deliveryIds);
    // Acknowledged: not again, unless resynchronising.
    expect((await relay(first.deliveryIds)).deliveryIds).toEqual([]);
    expect((await relay([], true)).deliveryIds).toEqual(first.deliveryIds);

    // The head of "all" ends: the key's next delivery is the one to queue now.
    const head = deliveries.find((d) => d?.endpointId === all.id);
    const answered = await attempt(head?.id as number, all.id, true);
    expect(answered.nextDeliveryId).not.toBeNull();
    const next = await store.getWebhookDelivery(answered.nextDeliveryId as number);
    expect(next?.eventSeq).toBe((await store.getEvent(revokedEvent.id))?.seq);
    expect((await relay()).deliveryIds).toEqual([answered.nextDeliveryId]);
    expect(await store.listWebhookAttempts({ endpointId: all.id }, 10)).toMatchObject([
      { succeeded: true, responseCode: 200, deliveryId: head?.id },
    ]);
  });

  it("a failed attempt keeps the delivery pending until the last; failing for 3 days disables the endpoint", async () => {
    const e = endpoint();
    await store.insertWebhookEndpoint(e, makeAudit({ action: "webhook.create" }));
    const events: EventRecord[] = [];
    for (let i = 0; i < 2; i++) {
      const key = makeKey();
      const event = keyEvent("key.created", key, NOW, 30);
      events.push(event);
      await store.insertKey(key, makeAudit({ keyId: key.id }), [event]);
    }
    const [a, b] = (await relay()).deliveryIds as [number, number];
    expect((await attempt(a, e.id, false)).endpointDisabled).toBe(false);
    expect((await store.getWebhookDelivery(a))?.state).toBe("pending");
    expect((await store.getWebhookEndpoint(e.id))?.failingSince).toBe(NOW);
    await attempt(a, e.id, false, NOW, true);
    expect((await store.getWebhookDelivery(a))?.state).toBe("failed");
    // Three days later, still failing: disabled, its pending deliveries end, the admins are to be mailed.
    const disabled = await attempt(b, e.id, false, NOW + 3 * DAY_MS);
    expect(disabled.endpointDisabled).toBe(true);
    expect(await store.getWebhookEndpoint(e.id)).toMatchObject({ enabled: false, disabledReason: "failing" });
    expect((await store.getWebhookDelivery(b))?.state).toBe("failed");
    const mails = await relay();
    expect(mails.mailEvents.map((m) => m.type)).toEqual(["webhook_endpoint.disabled"]);
    expect((await relay([], false, [mails.mailEvents[0]?.id as string])).mailEvents).toEqual([]);
  });

  it("an attempt Keyward could not send (its secrets key does not open the secret) ends its delivery but never disables the endpoint", async () => {
    const e = endpoint();
    await store.insertWebhookEndpoint(e, makeAudit({ action: "webhook.create" }));
    for (let i = 0; i < 3; i++) {
      const key = makeKey();
      await store.insertKey(key, makeAudit({ keyId: key.id }), [keyEvent("key.created", key, NOW, 30)]);
    }
    const [a, b, c] = (await relay()).deliveryIds as [number, number, number];
    const unsent = await attempt(a, e.id, false, NOW, true, false);
    expect(unsent.endpointDisabled).toBe(false);
    expect((await store.getWebhookDelivery(a))?.state).toBe("failed");
    expect((await store.getWebhookEndpoint(e.id))?.failingSince).toBeNull();
    // The receiver failed once; days of the operator's wrong key later, the endpoint is still on and its failing time unchanged.
    await attempt(b, e.id, false, NOW + DAY_MS, true);
    const later = await attempt(c, e.id, false, NOW + 5 * DAY_MS, true, false);
    expect(later.endpointDisabled).toBe(false);
    expect(await store.getWebhookEndpoint(e.id)).toMatchObject({ enabled: true, failingSince: NOW + DAY_MS });
  });

  it("updates endpoints only at the version read, and deletes them with their pending deliveries", async () => {
    const e = endpoint();
    await store.insertWebhookEndpoint(e, makeAudit({ action: "webhook.create" }));
    const key = makeKey();
    await store.insertKey(key, makeAudit({ keyId: key.id }), [keyEvent("key.created", key, NOW, 30)]);
    const [id] = (await relay()).deliveryIds as [number];
    await store.updateWebhookEndpoint({ ...e, description: "x", version: 2 }, makeAudit({ action: "webhook.update" }));
    await expect(
      store.updateWebhookEndpoint({ ...e, description: "stale", version: 2 }, makeAudit({ action: "webhook.update" })),
    ).rejects.toThrow(/changed by another write/);
    expect((await store.listWebhookEndpoints(10)).map((x) => x.description)).toEqual(["x"]);
    await store.deleteWebhookEndpoint(e.id, makeAudit({ action: "webhook.delete" }));
    expect(await store.getWebhookDelivery(id)).toBeUndefined();
    await expect(store.deleteWebhookEndpoint(e.id, makeAudit())).rejects.toThrow(/not found/);
  });
});

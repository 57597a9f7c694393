import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { pino } from "pino";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EventSignal } from "../../../src/service/events/event-signal.js";
import { keyEvent } from "../../../src/service/events/payloads.js";
import type { WebhookEndpointRecord } from "../../../src/service/keys/model.js";
import { sealStoredWebhookSecrets } from "../../../src/service/keys/seal-stored-secrets.js";
import { createSecretSealer, type SecretSealer } from "../../../src/service/keys/secret-seal.js";
import { createWebhooksApi, newWebhookSecret, type WebhooksApi } from "../../../src/service/keys/webhooks.js";
import type { KeyStore } from "../../../src/service/store/key-store.js";
import { makeAudit, makeKey, NOW, nextId, storeBackends, type TempStore } from "./store-fixtures.js";

const ADMIN = { name: "admin@example.com", keyId: null };
const newKey = () => randomBytes(32).toString("base64");

/**
 * Webhook signing secrets at rest under KEYWARD_SECRETS_KEY, on both stores:
 * the column holds `kwsealed1:…` and never the secret; the service still
 * signs with the secret it showed; plain rows are sealed at start; a sealed
 * secret does not open under another key or in another endpoint's row, and
 * then the attempt fails with a reason instead of anything being sent.
 */
describe.each(storeBackends())("$name store: sealed webhook secrets", (backend) => {
  let temp: TempStore;
  let store: KeyStore;
  let lines: string[];
  let signal: EventSignal;
  let handedOut: Set<string>;

  beforeEach(async () => {
    temp = await backend.open();
    store = temp.store;
    lines = [];
    signal = new EventSignal();
    handedOut = new Set();
  });
  afterEach(async () => {
    signal.close();
    await temp.cleanup();
  });

  const logger = () => pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
  const api = (sealer: SecretSealer): WebhooksApi =>
    createWebhooksApi({ store, now: () => NOW, signal, denyCidrs: [], sealer, logger: logger() });
  const storedSecret = async (id: string): Promise<string> => {
    const [row] = await temp.query<{ secret: string }>(`SELECT secret FROM webhook_endpoints WHERE id = '${id}'`);
    if (!row) throw new Error(`no row for ${id}`);
    return row.secret;
  };
  /** A key event relayed to every endpoint: the ids of its deliveries. */
  async function deliveries(): Promise<string[]> {
    const key = makeKey();
    await store.insertKey(key, makeAudit({ keyId: key.id }), [keyEvent("key.created", key, NOW, 30)]);
    const relayed = await store.relayWebhooks({
      at: NOW,
      queuedDeliveryIds: [],
      queuedMailEventIds: [],
      limit: 100,
      resync: false,
    });
    // The relay offers a delivery until told it was queued: only the new ones are this event's.
    const fresh = relayed.deliveryIds.map(String).filter((id) => !handedOut.has(id));
    for (const id of fresh) handedOut.add(id);
    return fresh;
  }
  const plainEndpoint = (secret: string): WebhookEndpointRecord => ({
    id: nextId("ep"),
    url: "https://hooks.example.com/x",
    description: "",
    eventTypes: [],
    enabled: true,
    secret,
    createdBy: ADMIN.name,
    createdAt: NOW,
    updatedAt: NOW,
    disabledReason: null,
    failingSince: null,
    version: 1,
  });

  it("stores kwsealed1:… instead of the secret and still signs with the secret shown at creation", async () => {
    const sealer = createSecretSealer(newKey());
    const webhooks = api(sealer);
    const { endpoint, secret } = await webhooks.createEndpoint({ url: "https://hooks.example.com/x" }, ADMIN);

    const stored = await storedSecret(endpoint.id);
    expect(stored.startsWith("kwsealed1:")).toBe(true);
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(secret.slice("whsec_".length, 20));
    // An update does not write the secret column: it stays sealed, and the same.
    await webhooks.updateEndpoint(endpoint.id, { fields: ["description"], description: "renamed" }, ADMIN);
    expect(await storedSecret(endpoint.id)).toBe(stored);

    const read = await store.getWebhookEndpoint(endpoint.id);
    expect(read && sealer.open(read.id, read.secret)).toEqual({ ok: true, secret, stale: false });

    const [delivery] = await deliveries();
    const prepared = await webhooks.prepare(delivery ?? "");
    expect(prepared.pending).toBe(true);
    expect(() => new Webhook(secret).verify(prepared.body, prepared.headers)).not.toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(prepared.body, prepared.headers)).toThrow();
  });

  it("seals the plain secrets stored before the key was set, once, and logs how many", async () => {
    const secrets = [newWebhookSecret(), newWebhookSecret()];
    const endpoints = secrets.map(plainEndpoint);
    for (const e of endpoints) await store.insertWebhookEndpoint(e, makeAudit({ action: "webhook.create" }));

    const unkeyed = createSecretSealer(undefined);
    expect(await sealStoredWebhookSecrets(store, unkeyed, logger())).toBe(0);
    expect(lines.join("")).toContain("webhook signing secrets are stored unsealed; set KEYWARD_SECRETS_KEY");
    expect(await storedSecret(endpoints[0]?.id ?? "")).toBe(secrets[0]);

    const key = newKey();
    const sealer = createSecretSealer(key);
    lines = [];
    expect(await sealStoredWebhookSecrets(store, sealer, logger())).toBe(2);
    const logged = lines.map((line) => JSON.parse(line) as { sealed?: number; msg: string });
    expect(logged).toEqual([expect.objectContaining({ sealed: 2, msg: expect.stringMatching(/sealed/) })]);
    const sealedRows: string[] = [];
    for (const [i, e] of endpoints.entries()) {
      const stored = await storedSecret(e.id);
      sealedRows.push(stored);
      expect(stored.startsWith("kwsealed1:")).toBe(true);
      expect(stored).not.toContain(secrets[i]);
      expect(sealer.open(e.id, stored)).toEqual({ ok: true, secret: secrets[i], stale: false });
    }
    for (const text of [...secrets, key]) expect(lines.join("")).not.toContain(text);

    // Started again without the key: no "unsealed" warning (none is), but an error that the sealed ones will fail.
    lines = [];
    expect(await sealStoredWebhookSecrets(store, unkeyed, logger())).toBe(0);
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ sealedEndpoints: 2, msg: expect.stringMatching(/KEYWARD_SECRETS_KEY is not set/) }),
    ]);

    // Idempotent: a second start seals nothing and leaves the rows as they are.
    expect(await sealStoredWebhookSecrets(store, sealer, logger())).toBe(0);
    for (const [i, e] of endpoints.entries()) expect(await storedSecret(e.id)).toBe(sealedRows[i]);

    // The sealed deliveries are signed with the old secrets, as receivers expect.
    const webhooks = api(sealer);
    for (const id of await deliveries()) {
      const prepared = await webhooks.prepare(id);
      const secret = secrets[endpoints.findIndex((e) => e.id === prepared.endpointId)] ?? "";
      expect(() => new Webhook(secret).verify(prepared.body, prepared.headers)).not.toThrow();
    }
  });

  it("rotates KEYWARD_SECRETS_KEY: previous keys still open and sign, and the next start seals again under the new key", async () => {
    const [oldKey, newerKey, strangerKey] = [newKey(), newKey(), newKey()];
    const before = api(createSecretSealer(oldKey));
    const kept = await before.createEndpoint({ url: "https://a.example.com/x" }, ADMIN);
    const lost = await api(createSecretSealer(strangerKey)).createEndpoint({ url: "https://b.example.com/x" }, ADMIN);
    const sealedWithOld = await storedSecret(kept.endpoint.id);
    const sealedWithStranger = await storedSecret(lost.endpoint.id);

    // Mid-rotation (this replica has the new key, the rows are still the old key's): deliveries are signed as before.
    const rotating = createSecretSealer(newerKey, [oldKey]);
    expect(rotating.open(kept.endpoint.id, sealedWithOld)).toEqual({ ok: true, secret: kept.secret, stale: true });
    for (const id of await deliveries()) {
      const prepared = await api(rotating).prepare(id);
      if (prepared.endpointId !== kept.endpoint.id) continue;
      expect(() => new Webhook(kept.secret).verify(prepared.body, prepared.headers)).not.toThrow();
    }

    // The start seals it again under the new key, and says the stranger's is opened by no key.
    lines = [];
    expect(await sealStoredWebhookSecrets(store, rotating, logger())).toBe(1);
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged).toEqual([
      expect.objectContaining({ endpoints: 1, msg: expect.stringMatching(/neither KEYWARD_SECRETS_KEY nor in/) }),
      expect.objectContaining({ sealed: 0, resealed: 1 }),
    ]);
    const resealed = await storedSecret(kept.endpoint.id);
    expect(resealed).not.toBe(sealedWithOld);
    expect(createSecretSealer(newerKey).open(kept.endpoint.id, resealed)).toEqual({
      ok: true,
      secret: kept.secret,
      stale: false,
    });
    expect(createSecretSealer(oldKey).open(kept.endpoint.id, resealed).ok).toBe(false);
    // What no key opens is left as it is: setting its key back still recovers it.
    expect(await storedSecret(lost.endpoint.id)).toBe(sealedWithStranger);
    for (const text of [kept.secret, lost.secret, oldKey, newerKey, strangerKey]) {
      expect(lines.join("")).not.toContain(text);
    }
    // Done: a second start writes nothing, and the previous key can go.
    expect(await sealStoredWebhookSecrets(store, rotating, logger())).toBe(0);
  });

  // A file scan is SQLite's alone (registered only there, never a skipped test); PostgreSQL's live rows are
  // scanned end to end in test/integration/webhooks/sealed-secrets-suite.ts.
  const sqliteOnly = backend.name === "sqlite" ? it : () => undefined;
  sqliteOnly("leaves no plain secret readable in the SQLite file once sealed", async () => {
    // Enough rows that sealing (longer values) splits pages, whose old space keeps the old bytes.
    const secrets = Array.from({ length: 40 }, () => newWebhookSecret());
    for (const secret of secrets) {
      await store.insertWebhookEndpoint(plainEndpoint(secret), makeAudit({ action: "webhook.create" }));
    }
    expect(await sealStoredWebhookSecrets(store, createSecretSealer(newKey()), logger())).toBe(40);
    await store.close();
    const bytes = Buffer.concat(
      ["", "-wal"].filter((suffix) => existsSync(temp.file + suffix)).map((suffix) => readFileSync(temp.file + suffix)),
    );
    expect(secrets.filter((secret) => bytes.includes(secret.slice("whsec_".length)))).toEqual([]);
  });

  it("warns of nothing when no endpoint exists", async () => {
    expect(await sealStoredWebhookSecrets(store, createSecretSealer(undefined), logger())).toBe(0);
    expect(lines).toEqual([]);
  });

  it("does not open a secret sealed for endpoint A in endpoint B's row: B's attempt fails, logged once", async () => {
    const key = newKey();
    const sealer = createSecretSealer(key);
    const webhooks = api(sealer);
    const a = await webhooks.createEndpoint({ url: "https://a.example.com/x" }, ADMIN);
    const b = await webhooks.createEndpoint({ url: "https://b.example.com/x" }, ADMIN);
    const sealedForA = await storedSecret(a.endpoint.id);
    await temp.exec(`UPDATE webhook_endpoints SET secret = '${sealedForA}' WHERE id = '${b.endpoint.id}'`);
    expect(sealer.open(b.endpoint.id, sealedForA).ok).toBe(false);

    for (let round = 0; round < 2; round++) {
      for (const id of await deliveries()) {
        const prepared = await webhooks.prepare(id);
        if (prepared.endpointId === a.endpoint.id) {
          expect(() => new Webhook(a.secret).verify(prepared.body, prepared.headers)).not.toThrow();
          continue;
        }
        expect(prepared).toMatchObject({ pending: false, url: "", body: "", headers: {} });
        expect(prepared.reason).toMatch(/sealed with another KEYWARD_SECRETS_KEY/);
        expect((await store.getWebhookDelivery(Number(id)))?.state).toBe("failed");
      }
    }
    const attempts = await store.listWebhookAttempts({ endpointId: b.endpoint.id }, 10);
    expect(attempts).toHaveLength(2);
    for (const attempt of attempts) {
      expect(attempt).toMatchObject({ succeeded: false, responseCode: null });
      expect(attempt.error).toMatch(/the endpoint's secret is sealed with another KEYWARD_SECRETS_KEY/);
    }
    const errors = lines.filter((line) => line.includes("cannot be signed"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(b.endpoint.id);
    for (const text of [a.secret, b.secret, key]) expect(lines.join("")).not.toContain(text);
  });

  it("fails the attempt, not the service, under another key or none", async () => {
    const created = await api(createSecretSealer(newKey())).createEndpoint({ url: "https://a.example.com/x" }, ADMIN);
    const [first, second] = [await deliveries(), await deliveries()].flat();
    const other = await api(createSecretSealer(newKey())).prepare(first ?? "");
    expect(other).toMatchObject({
      pending: false,
      reason: expect.stringMatching(/sealed with another KEYWARD_SECRETS_KEY/),
    });
    const none = await api(createSecretSealer(undefined)).prepare(second ?? "");
    expect(none).toMatchObject({ pending: false, reason: expect.stringMatching(/KEYWARD_SECRETS_KEY is not set/) });
    // Reads of the endpoint never need the secret: they answer as always.
    const unkeyed = api(createSecretSealer(undefined));
    expect((await unkeyed.getEndpoint(created.endpoint.id)).id).toBe(created.endpoint.id);
    expect((await unkeyed.listEndpoints({ pageSize: 10, pageToken: "" })).items).toHaveLength(1);
  });
});

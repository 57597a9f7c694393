import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asActor } from "../../../src/shared/contract/service-client.js";
import type { TestDatabase } from "../../support/postgres.js";
import { captureLogger, eventually, newStackDataDir, type Stack, sleep, startStack } from "../workers/harness.js";
import { type Received, type Receiver, signatureHeaders, startReceiver } from "./receiver.js";

const admin = asActor({ name: "admin@example.com" });
const newKey = () => randomBytes(32).toString("base64");
const FAST = { webhookRetryDelaysMs: [150, 150, 150], relayWaitMs: 200 };

/** Every byte of every file in the data dir (the database, its WAL and shared memory): where the secret would be. */
function dataDirBytes(dataDir: string): Buffer {
  return Buffer.concat(
    readdirSync(dataDir, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => readFileSync(join(dataDir, entry.name))),
  );
}

/** For each request, the index of the one secret among `secrets` its signature verifies with (-1: none). */
function signedWith(requests: Received[], secrets: string[]): number[] {
  return requests.map((r) =>
    secrets.findIndex((secret) => {
      try {
        new Webhook(secret).verify(r.body, signatureHeaders(r));
        return true;
      } catch {
        return false;
      }
    }),
  );
}

/** The secret in the forms a file could hold it: the whole, and its base64 body (32 bytes' worth). */
function secretForms(secret: string): string[] {
  return [secret, secret.slice("whsec_".length)];
}

/**
 * KEYWARD_SECRETS_KEY end to end on one store (SQLite, or PostgreSQL with
 * `database`): the real service, workers and a receiver. Deliveries are
 * still signed with the secret shown at creation, the database (SQLite: its
 * files' bytes; PostgreSQL: its rows) never holds it, plain secrets of an
 * earlier run are sealed at the next start, and a restart under another key
 * makes each attempt fail with a reason while the receiver gets nothing.
 */
export function sealedSecretsSuite(label: string, database?: () => TestDatabase): void {
  describe(`sealed webhook secrets (${label}, end to end)`, () => {
    let dataDir: string;
    let receiver: Receiver;
    let s: Stack | undefined;

    beforeAll(async () => {
      dataDir = newStackDataDir();
      receiver = await startReceiver();
    });
    afterAll(async () => {
      await s?.close();
      await receiver?.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    const start = (env: Record<string, string>, logger = captureLogger("info").logger) =>
      startStack({
        dataDir,
        env: database ? { ...env, DATABASE_URL: database().url } : env,
        logger,
        workerOptions: FAST,
      });
    /** What a copy of the database would show: the SQLite files' bytes, or every webhook_endpoints row. */
    const stored = async (): Promise<Buffer> =>
      database
        ? Buffer.from(JSON.stringify(await database().query("SELECT * FROM webhook_endpoints")))
        : dataDirBytes(dataDir);
    const keyEvent = async (stack: Stack, name: string) =>
      (await stack.direct.createKey({ name }, admin)).key?.id as string;
    const forKey = (keyId: string) => (r: { json: { data?: { key?: { id?: string } } } }) =>
      r.json?.data?.key?.id === keyId;

    const firstKey = newKey();
    let plainSecret = "";
    let sealedSecret = "";
    let plainEndpoint = "";
    let sealedEndpoint = "";

    it("without a key: secrets stored in plain text, as before, and a warning at the next start", async () => {
      s = await start({});
      const created = await s.direct.createWebhookEndpoint({ url: receiver.url }, admin);
      plainEndpoint = created.endpoint?.id as string;
      plainSecret = created.secret;
      await s.close();
      expect((await stored()).includes(plainSecret)).toBe(true);

      const captured = captureLogger("info");
      s = await start({}, captured.logger);
      expect(captured.lines().map((l) => l.msg)).toContain(
        "webhook signing secrets are stored unsealed; set KEYWARD_SECRETS_KEY",
      );
      await s.close();
      s = undefined;
    });

    it("with a key: the plain secret is sealed at start, deliveries are signed with the shown secrets, the database does not hold them", async () => {
      const captured = captureLogger("info");
      s = await start({ KEYWARD_SECRETS_KEY: firstKey }, captured.logger);
      expect(captured.lines()).toContainEqual(
        expect.objectContaining({ sealed: 1, msg: "webhook signing secrets sealed with KEYWARD_SECRETS_KEY" }),
      );
      const created = await s.direct.createWebhookEndpoint({ url: receiver.url }, admin);
      sealedEndpoint = created.endpoint?.id as string;
      sealedSecret = created.secret;

      const keyId = await keyEvent(s, "sealed");
      const requests = await receiver.waitFor(2, forKey(keyId));
      const secrets = [plainSecret, sealedSecret];
      // Each request verifies with exactly one of the two secrets: one request per endpoint.
      const verifiedWith = signedWith(requests, secrets);
      expect(verifiedWith.sort()).toEqual([0, 1]);

      await s.close();
      s = undefined;
      const bytes = await stored();
      for (const secret of secrets) for (const form of secretForms(secret)) expect(bytes.includes(form)).toBe(false);
      expect(bytes.includes("kwsealed1:")).toBe(true);
      const logged = JSON.stringify(captured.lines());
      for (const text of [...secrets, firstKey]) expect(logged).not.toContain(text);
    });

    it("restarted under another key: the attempt fails saying so without counting against the endpoint, the receiver gets nothing, nothing crashes", async () => {
      const otherKey = newKey();
      const captured = captureLogger("info");
      s = await start({ KEYWARD_SECRETS_KEY: otherKey }, captured.logger);
      expect(captured.lines()).toContainEqual(expect.objectContaining({ sealed: 0 }));
      const before = receiver.requests.length;

      const keyId = await keyEvent(s, "unopenable");
      // At least three events: the harness's admin and member keys, and this key (an earlier run may have left some).
      for (const endpointId of [plainEndpoint, sealedEndpoint]) {
        const failed = await eventually(async () => {
          const page = await s?.direct.listWebhookAttempts({ endpointId });
          const attempts = (page?.attempts ?? []).filter((a) => a.error !== "");
          expect(attempts.length).toBeGreaterThanOrEqual(3);
          return attempts;
        });
        for (const attempt of failed) {
          expect(attempt.error).toBe(
            "the endpoint's secret is sealed with another KEYWARD_SECRETS_KEY (or for another endpoint)",
          );
        }
        // Reads of the endpoint answer as always: its secret is never needed there. The operator's
        // key, not the receiver, failed: the endpoint is not counted as failing (nor, in 3 days, disabled).
        const { endpoint } = await s.direct.getWebhookEndpoint({ id: endpointId });
        expect(endpoint).toMatchObject({ id: endpointId, enabled: true });
        expect(endpoint?.failingSince).toBeUndefined();
      }
      await sleep(500);
      expect(receiver.requests.slice(before).filter(forKey(keyId))).toEqual([]);
      expect(receiver.requests.length).toBe(before);

      const errors = captured.lines().filter((l) => String(l.msg).includes("cannot be signed"));
      expect(errors.map((l) => l.endpointId).sort()).toEqual([plainEndpoint, sealedEndpoint].sort());
      const logged = JSON.stringify(captured.lines());
      for (const text of [plainSecret, sealedSecret, firstKey, otherKey]) expect(logged).not.toContain(text);
    });

    it("rotated to a new key with the first as KEYWARD_SECRETS_KEY_PREVIOUS: sealed again at start, signed as before, then the previous key can go", async () => {
      await s?.close();
      const rotatedKey = newKey();
      const captured = captureLogger("info");
      s = await start({ KEYWARD_SECRETS_KEY: rotatedKey, KEYWARD_SECRETS_KEY_PREVIOUS: firstKey }, captured.logger);
      expect(captured.lines()).toContainEqual(expect.objectContaining({ sealed: 0, resealed: 2 }));
      await s.close();

      s = await start({ KEYWARD_SECRETS_KEY: rotatedKey });
      const keyId = await keyEvent(s, "rotated");
      const requests = await receiver.waitFor(2, forKey(keyId));
      const verifiedWith = signedWith(requests, [plainSecret, sealedSecret]);
      expect(verifiedWith.sort()).toEqual([0, 1]);
      const logged = JSON.stringify(captured.lines());
      for (const text of [plainSecret, sealedSecret, firstKey, rotatedKey]) expect(logged).not.toContain(text);
    });
  });
}

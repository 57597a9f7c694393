import { Code, ConnectError } from "@connectrpc/connect";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExportMailState, ExportResource, ExportState } from "../../../src/gen/keyward/v1/export_pb.js";
import { WebhookAttemptStatus } from "../../../src/gen/keyward/v1/webhook_pb.js";
import { asActor } from "../../../src/shared/contract/service-client.js";
import { captureLogger, eventually, type Stack, startStack } from "../workers/harness.js";
import { type Received, type Receiver, signatureHeaders, startReceiver } from "./receiver.js";

const DAY = 86_400_000;
const admin = asActor({ name: "admin@example.com" });
const text = (value: unknown) => JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? String(v) : v));

/** The reference check of the Standard Webhooks package. */
function verify(secret: string, r: Received | undefined): unknown {
  if (!r) throw new Error("no request");
  return new Webhook(secret).verify(r.body, signatureHeaders(r));
}

async function codeOf(promise: Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConnectError) return { code: error.code, message: error.rawMessage };
    throw error;
  }
  throw new Error("expected the call to fail");
}

/**
 * Webhooks end to end over one store (SQLite, or PostgreSQL with
 * `databaseUrl`): endpoints kept by the service, events recorded with their
 * change, relayed and delivered by the workers to real receivers in this
 * process, signed, retried, in order per key, every attempt listed.
 */
export function webhookSuite(label: string, databaseUrl?: () => string): void {
  describe(`webhooks (${label})`, () => {
    let s: Stack;
    let receiver: Receiver;
    let endpointId = "";
    let secret = "";
    const captured = captureLogger("debug");
    const tokens: string[] = [];

    beforeAll(async () => {
      s = await startStack({
        logger: captured.logger,
        env: databaseUrl ? { DATABASE_URL: databaseUrl() } : {},
        workerOptions: { webhookRetryDelaysMs: [150, 150, 150], relayWaitMs: 200 },
      });
      receiver = await startReceiver();
    });
    afterAll(async () => {
      await s?.close();
      await receiver?.close();
    });

    const forKey = (keyId: string) => (r: Received) => r.json?.data?.key?.id === keyId;
    const createKey = async (name: string, extra: Record<string, unknown> = {}) => {
      const created = await s.direct.createKey({ name, ...extra }, admin);
      tokens.push(created.token);
      return created.key?.id as string;
    };

    it("refuses bad endpoints naming the field, and unknown ones with NOT_FOUND", async () => {
      const bad = async (input: Record<string, unknown>) => codeOf(s.direct.createWebhookEndpoint(input, admin));
      expect(await bad({ url: "ftp://example.com/x" })).toMatchObject({
        code: Code.InvalidArgument,
        message: expect.stringMatching(/^url: /),
      });
      expect(await bad({ url: "https://user:pw@example.com/x" })).toMatchObject({
        code: Code.InvalidArgument,
        message: expect.stringMatching(/^url: must not hold a user name/),
      });
      expect((await bad({ url: "https://user:pw@example.com/x" })).message).not.toContain("pw");
      expect(await bad({ url: "not a url" })).toMatchObject({
        code: Code.InvalidArgument,
        message: "url: is not a URL",
      });
      expect(await bad({ url: "" })).toMatchObject({ code: Code.InvalidArgument, message: "url: is required" });
      expect(await bad({ url: receiver.url, eventTypes: ["key.created", "key.nope"] })).toMatchObject({
        code: Code.InvalidArgument,
        message: expect.stringMatching(/^event_types\[1\]: /),
      });
      expect(await bad({ url: receiver.url, description: "x".repeat(1001) })).toMatchObject({
        code: Code.InvalidArgument,
        message: expect.stringMatching(/^description: /),
      });
      const unknown = "0190a0a0-0000-7000-8000-000000000000";
      expect(await codeOf(s.direct.getWebhookEndpoint({ id: unknown }))).toMatchObject({ code: Code.NotFound });
      expect(await codeOf(s.direct.getWebhookEndpoint({ id: "nope" }))).toMatchObject({
        code: Code.InvalidArgument,
        message: expect.stringMatching(/^id: /),
      });
      expect(await codeOf(s.direct.deleteWebhookEndpoint({ id: unknown }, admin))).toMatchObject({
        code: Code.NotFound,
      });
      expect(await codeOf(s.direct.listWebhookAttempts({ endpointId: unknown }))).toMatchObject({
        code: Code.NotFound,
      });
      expect(
        await codeOf(s.direct.updateWebhookEndpoint({ id: unknown, updateMask: { paths: ["secret"] } }, admin)),
      ).toMatchObject({ code: Code.InvalidArgument, message: expect.stringMatching(/^update_mask\.paths\[0\]: /) });
      expect(await codeOf(s.direct.resendWebhookEvent({ endpointId: unknown, eventId: "msg_x" }, admin))).toMatchObject(
        {
          code: Code.NotFound,
        },
      );
      expect(await codeOf(s.direct.prepareWebhookDelivery({ deliveryId: "x" }))).toMatchObject({
        code: Code.InvalidArgument,
        message: expect.stringMatching(/^delivery_id: /),
      });
      // Without the service credential: refused.
      const { createServiceClient } = await import("../../../src/shared/contract/service-client.js");
      const stranger = createServiceClient({ baseUrl: s.serviceUrl, serviceToken: "x".repeat(40) });
      expect(await codeOf(stranger.client.listWebhookEndpoints({}))).toMatchObject({ code: Code.Unauthenticated });
      stranger.close();
    });

    it("refuses endpoint URLs naming a cloud metadata address, on creation and update; internal ones are fine", async () => {
      const denied = [
        ["http://169.254.169.254/latest/meta-data/", "169.254.169.254"],
        ["http://[fd00:ec2::254]/", "fd00:ec2::254"],
        // URLs write IPv4-mapped IPv6 in hex: ::ffff:a9fe:a9fe is 169.254.169.254.
        ["http://[::ffff:169.254.169.254]/", "::ffff:a9fe:a9fe"],
        // The same address through a NAT64 gateway and a 6to4 relay.
        ["http://[64:ff9b::169.254.169.254]/", "64:ff9b::a9fe:a9fe"],
        ["http://[2002:a9fe:a9fe::1]/", "2002:a9fe:a9fe::1"],
      ];
      const refusal = (address: string) => ({
        code: Code.InvalidArgument,
        message: `url: ${address} is in KEYWARD_WEBHOOK_DENY_CIDRS: webhooks are never sent there`,
      });
      for (const [url, address] of denied as [string, string][]) {
        expect(await codeOf(s.direct.createWebhookEndpoint({ url }, admin)), url).toEqual(refusal(address));
      }
      // Disabled: nothing is sent to them while the other tests run.
      const ids: string[] = [];
      for (const url of ["http://10.1.2.3/hook", "http://127.0.0.1:1234/"]) {
        const created = await s.direct.createWebhookEndpoint({ url, enabled: false }, admin);
        expect(created.endpoint?.url).toBe(url);
        ids.push(created.endpoint?.id as string);
      }
      const [id] = ids as [string];
      for (const [url, address] of denied as [string, string][]) {
        const update = s.direct.updateWebhookEndpoint({ id, updateMask: { paths: ["url"] }, url }, admin);
        expect(await codeOf(update), url).toEqual(refusal(address));
      }
      expect((await s.direct.getWebhookEndpoint({ id })).endpoint?.url).toBe("http://10.1.2.3/hook");
      const moved = await s.direct.updateWebhookEndpoint(
        { id, updateMask: { paths: ["url"] }, url: "http://127.0.0.1:1234/" },
        admin,
      );
      expect(moved.endpoint?.url).toBe("http://127.0.0.1:1234/");
      for (const endpoint of ids) await s.direct.deleteWebhookEndpoint({ id: endpoint }, admin);
    });

    it("registers an endpoint whose Standard Webhooks secret is shown once, then never", async () => {
      const created = await s.direct.createWebhookEndpoint({ url: receiver.url, description: "all events" }, admin);
      endpointId = created.endpoint?.id as string;
      secret = created.secret;
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(created.endpoint?.enabled).toBe(true);
      expect(created.endpoint?.createdBy).toBe("admin@example.com");
      const body = secret.slice("whsec_".length);
      expect(text(await s.direct.getWebhookEndpoint({ id: endpointId }))).not.toContain(body);
      const listed = await s.direct.listWebhookEndpoints({});
      expect(listed.endpoints.map((e) => e.id)).toContain(endpointId);
      expect(text(listed)).not.toContain(body);
      const audit = await s.direct.listAuditEvents({ action: "webhook.create" });
      expect(audit.events[0]?.summary).toContain(endpointId);
      expect(text(audit)).not.toContain(body);
    });

    it("delivers key.created signed: the reference check verifies it; no token in it", async () => {
      const keyId = await createKey("hooked", { claims: { email: "owner@example.com" } });
      const [request] = await receiver.waitFor(1, forKey(keyId));
      const r = request as Received;
      expect(r.json.type).toBe("key.created");
      expect(r.headers["content-type"]).toBe("application/json");
      expect(r.headers["webhook-id"]).toMatch(/^msg_[0-9a-f]{32}$/);
      const verified = new Webhook(secret).verify(r.body, signatureHeaders(r)) as {
        type: string;
        timestamp: string;
        data: { key: Record<string, unknown> };
      };
      expect(verified.data.key).toMatchObject({ id: keyId, name: "hooked", status: "active", enabled: true });
      expect(verified.data.key.tokenHint).toMatch(/^kw_/);
      expect(Date.parse(verified.timestamp)).toBeGreaterThan(0);
      for (const token of tokens) expect(r.body).not.toContain(token);
      const other = new Webhook(`whsec_${Buffer.alloc(32, 7).toString("base64")}`);
      expect(() => other.verify(r.body, signatureHeaders(r))).toThrow();
      expect(() => new Webhook(secret).verify(`${r.body} `, signatureHeaders(r))).toThrow();

      const attempts = await eventually(async () => {
        const page = await s.direct.listWebhookAttempts({ endpointId, eventId: String(r.headers["webhook-id"]) });
        expect(page.attempts).toHaveLength(1);
        return page.attempts;
      });
      expect(attempts[0]).toMatchObject({
        attempt: 1,
        responseCode: 200,
        status: WebhookAttemptStatus.SUCCEEDED,
        manual: false,
      });
      expect(attempts[0]?.durationMs).toBeGreaterThanOrEqual(0);
    });

    it("announces every key change: updated, disabled, enabled, rotated, revoked", async () => {
      const keyId = await createKey("lifecycle");
      await s.direct.updateKey({ id: keyId, updateMask: { paths: ["name"] }, name: "lifecycle 2" }, admin);
      await s.direct.updateKey({ id: keyId, updateMask: { paths: ["enabled"] }, enabled: false }, admin);
      await s.direct.updateKey({ id: keyId, updateMask: { paths: ["enabled"] }, enabled: true }, admin);
      const rotated = await s.direct.rotateKey({ id: keyId, gracePeriodSeconds: 60 }, admin);
      tokens.push(rotated.token);
      const newId = rotated.key?.id as string;
      await s.direct.deleteKey({ id: newId, reason: "done" }, admin);
      const about = (r: Received) => r.json?.data?.key?.id === keyId || r.json?.data?.previousKey?.id === keyId;
      const got = await receiver.waitFor(5, (r) => about(r) && r.status === 200);
      expect(got.map((r) => r.json.type)).toEqual([
        "key.created",
        "key.updated",
        "key.disabled",
        "key.enabled",
        "key.rotated",
      ]);
      expect(got[1]?.json.data.changedFields).toEqual(["name"]);
      expect(got[4]?.json.data.key.id).toBe(newId);
      expect(got[4]?.json.data.previousKey.rotatedToId).toBe(newId);
      const [revoked] = await receiver.waitFor(
        1,
        (r) => r.json?.type === "key.revoked" && r.json.data.key.id === newId,
      );
      expect(revoked?.json.data.key).toMatchObject({ status: "revoked", revocationReason: "done" });
      for (const r of receiver.requests) for (const token of tokens) expect(r.body).not.toContain(token);
    });

    it("announces exports that finish: export.ready and export.failed", async () => {
      const ready = (await s.direct.createExport({ resource: ExportResource.API_KEYS }, admin)).export?.id as string;
      const failed = (await s.direct.createExport({ resource: ExportResource.KEY_LOGS }, admin)).export?.id as string;
      await s.direct.updateExport({ id: ready, state: ExportState.READY, rowCount: 3n, byteSize: 120n });
      await s.direct.updateExport({ id: failed, state: ExportState.FAILED, error: "the disk is full" });
      const [r] = await receiver.waitFor(1, (x) => x.json?.type === "export.ready" && x.json.data.export.id === ready);
      expect(r?.json.data.export).toMatchObject({ state: "ready", rowCount: 3, resource: "api_keys" });
      const [f] = await receiver.waitFor(
        1,
        (x) => x.json?.type === "export.failed" && x.json.data.export.id === failed,
      );
      expect(f?.json.data.export).toMatchObject({ state: "failed", error: "the disk is full" });
      // Only the transition is announced: recording the mail later says nothing new.
      await s.direct.updateExport({ id: ready, mailState: ExportMailState.SENT });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(receiver.requests.filter((x) => x.json?.data?.export?.id === ready)).toHaveLength(1);
    });

    it("retries a failing endpoint on its schedule and records each attempt", async () => {
      let failures = 0;
      receiver.policy = (r) => (r.json?.data?.key?.name === "flaky" && failures++ < 2 ? 500 : 200);
      const keyId = await createKey("flaky");
      const got = await receiver.waitFor(3, forKey(keyId));
      expect(got.map((r) => r.status)).toEqual([500, 500, 200]);
      expect(new Set(got.map((r) => r.headers["webhook-id"])).size).toBe(1);
      for (const r of got) expect(() => new Webhook(secret).verify(r.body, signatureHeaders(r))).not.toThrow();
      const eventId = String(got[0]?.headers["webhook-id"]);
      const attempts = await eventually(async () => {
        const page = await s.direct.listWebhookAttempts({ endpointId, eventId });
        expect(page.attempts).toHaveLength(3);
        return page.attempts;
      });
      expect(attempts.map((a) => [a.attempt, a.responseCode, a.status])).toEqual([
        [3, 200, WebhookAttemptStatus.SUCCEEDED],
        [2, 500, WebhookAttemptStatus.FAILED],
        [1, 500, WebhookAttemptStatus.FAILED],
      ]);
      expect(attempts[1]?.error).toBe("the endpoint answered HTTP 500");
      receiver.policy = () => 200;
    });

    it("keeps each key's events in order, a failure holding back only that key", async () => {
      // The first delivery of every key fails once: the later events of that key wait for it.
      const failedOnce = new Set<string>();
      receiver.policy = (r) => {
        const id = r.json?.data?.key?.id as string | undefined;
        if (r.json?.data?.key?.name?.startsWith("ordered") && id && !failedOnce.has(id)) {
          failedOnce.add(id);
          return 500;
        }
        return 200;
      };
      const ids = await Promise.all([1, 2, 3, 4].map((i) => createKey(`ordered ${i}`)));
      await Promise.all(
        ids.map(async (id) => {
          for (const name of ["a", "b", "c"]) {
            await s.direct.updateKey({ id, updateMask: { paths: ["description"] }, description: name }, admin);
          }
          await s.direct.updateKey({ id, updateMask: { paths: ["enabled"] }, enabled: false }, admin);
        }),
      );
      for (const id of ids) {
        const seen = await receiver.waitFor(6, forKey(id));
        // What reached the receiver, in arrival order: the failed first try, then every event once, in order.
        expect(seen.map((r) => [r.json.type, r.json.data.key.description ?? null, r.status])).toEqual([
          ["key.created", null, 500],
          ["key.created", null, 200],
          ["key.updated", "a", 200],
          ["key.updated", "b", 200],
          ["key.updated", "c", 200],
          ["key.disabled", "c", 200],
        ]);
      }
      receiver.policy = () => 200;
    });

    it("sends an endpoint only the event types it asked for; disabled endpoints get nothing", async () => {
      const picky = await startReceiver();
      try {
        const created = await s.direct.createWebhookEndpoint({ url: picky.url, eventTypes: ["key.revoked"] }, admin);
        const id = created.endpoint?.id as string;
        const keyId = await createKey("picky");
        await s.direct.deleteKey({ id: keyId }, admin);
        const [revoked] = await picky.waitFor(1);
        expect(revoked?.json.type).toBe("key.revoked");
        expect(() => verify(created.secret, revoked)).not.toThrow();
        // The all-events endpoint got both.
        await receiver.waitFor(2, forKey(keyId));

        const off = await s.direct.updateWebhookEndpoint(
          { id, updateMask: { paths: ["enabled"] }, enabled: false },
          admin,
        );
        expect(off.endpoint?.enabled).toBe(false);
        const revokedId = String(revoked?.headers["webhook-id"]);
        expect(await codeOf(s.direct.resendWebhookEvent({ endpointId: id, eventId: revokedId }, admin))).toMatchObject({
          code: Code.FailedPrecondition,
        });
        const later = await createKey("picky 2");
        await s.direct.deleteKey({ id: later }, admin);
        await receiver.waitFor(2, forKey(later));
        expect(picky.requests).toHaveLength(1);

        const changed = await s.direct.updateWebhookEndpoint(
          { id, updateMask: { paths: ["event_types", "description"] }, eventTypes: [], description: "now all" },
          admin,
        );
        expect(changed.endpoint?.eventTypes).toEqual([]);
        const removed = await s.direct.deleteWebhookEndpoint({ id }, admin);
        expect(removed.endpoint?.id).toBe(id);
        expect(await codeOf(s.direct.getWebhookEndpoint({ id }))).toMatchObject({ code: Code.NotFound });
      } finally {
        await picky.close();
      }
    });

    it("delivers to an endpoint named by a host name, resolved through the deny list's guard", async () => {
      const named = await startReceiver();
      try {
        const url = named.url.replace("://127.0.0.1:", "://localhost:");
        const created = await s.direct.createWebhookEndpoint({ url, eventTypes: ["key.created"] }, admin);
        const keyId = await createKey("by name");
        const [request] = await named.waitFor(1, forKey(keyId));
        expect(() => verify(created.secret, request)).not.toThrow();
        await s.direct.deleteWebhookEndpoint({ id: created.endpoint?.id as string }, admin);
      } finally {
        await named.close();
      }
    });

    it("resends an event on demand: the same webhook-id, recorded as manual", async () => {
      const keyId = await createKey("again");
      const [first] = await receiver.waitFor(1, forKey(keyId));
      const eventId = String(first?.headers["webhook-id"]);
      const { deliveryId } = await s.direct.resendWebhookEvent({ endpointId, eventId }, admin);
      expect(deliveryId).toMatch(/^\d+$/);
      const both = await receiver.waitFor(2, forKey(keyId));
      expect(both[1]?.headers["webhook-id"]).toBe(eventId);
      expect(() => verify(secret, both[1])).not.toThrow();
      const attempts = await eventually(async () => {
        const page = await s.direct.listWebhookAttempts({ endpointId, eventId });
        expect(page.attempts).toHaveLength(2);
        return page.attempts;
      });
      expect(attempts[0]?.manual).toBe(true);
      expect(await codeOf(s.direct.resendWebhookEvent({ endpointId, eventId: "msg_1" }, admin))).toMatchObject({
        code: Code.InvalidArgument,
        message: expect.stringMatching(/^event_id: /),
      });
      expect(
        await codeOf(s.direct.resendWebhookEvent({ endpointId, eventId: `msg_${"0".repeat(32)}` }, admin)),
      ).toMatchObject({ code: Code.NotFound });
    });

    it("a verification that takes a key below its line announces key.credits_low at once, once per refill period", async () => {
      const about = (type: string, id: string) =>
        receiver.requests.filter((r) => r.json?.type === type && forKey(id)(r));
      const credits = await createKey("credits", { refill: { interval: 1, amount: 100n } });
      const token = tokens[tokens.length - 1] as string;
      // 11 left: still at or above the line (10% of the refill amount), nothing to tell.
      expect((await s.direct.verifyKey({ token, cost: 89n })).remaining).toBe(11n);
      // Its own line: told below 30 credits, without a refill.
      const own = await createKey("own line", { remaining: 40n, creditsLowThreshold: 30n });
      const ownToken = tokens[tokens.length - 1] as string;
      await s.direct.verifyKey({ token: ownToken, cost: 15n });
      await s.direct.verifyKey({ token, cost: 2n });
      // No sweep: the spend that crossed the line told it.
      const [low] = await receiver.waitFor(1, (r) => r.json?.type === "key.credits_low" && forKey(credits)(r));
      expect(low?.json.data).toMatchObject({ threshold: 10, key: { id: credits, remaining: 9 } });
      expect(() => verify(secret, low)).not.toThrow();
      const [ownLow] = await receiver.waitFor(1, (r) => r.json?.type === "key.credits_low" && forKey(own)(r));
      expect(ownLow?.json.data).toMatchObject({ threshold: 30, key: { remaining: 25, creditsLowThreshold: 30 } });
      // Spends further below the line, and sweeps, tell nothing new in the same period.
      await s.direct.verifyKey({ token, cost: 1n });
      await s.direct.verifyKey({ token: ownToken, cost: 1n });
      await s.sweepNow();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(about("key.credits_low", credits)).toHaveLength(1);
      expect(about("key.credits_low", own)).toHaveLength(1);
      // The next day's refill puts 100 back; falling below the line again is told again.
      s.clock.advance(DAY);
      expect((await s.direct.verifyKey({ token, cost: 91n })).remaining).toBe(9n);
      const [, again] = await receiver.waitFor(2, (r) => r.json?.type === "key.credits_low" && forKey(credits)(r));
      expect(again?.json.data).toMatchObject({ threshold: 10, key: { remaining: 9 } });
    });

    it("the sweep announces expiring (7 days, 1 day, once each), expired, and low keys no spend took below their line", async () => {
      const expiring = await createKey("expiring", { expiresInSeconds: 6 * 86_400 });
      // 60 left, then the line is raised above the balance: no verification crossed it, the sweep tells it.
      const raised = await createKey("line raised", { remaining: 60n, creditsLowThreshold: 50n });
      await s.direct.updateKey(
        { id: raised, updateMask: { paths: ["credits_low_threshold"] }, creditsLowThreshold: 70n },
        admin,
      );
      await s.sweepNow();
      const [week] = await receiver.waitFor(1, (r) => r.json?.type === "key.expiring" && forKey(expiring)(r));
      expect(week?.json.data.expiresInDays).toBe(7);
      const [low] = await receiver.waitFor(1, (r) => r.json?.type === "key.credits_low" && forKey(raised)(r));
      expect(low?.json.data).toMatchObject({ threshold: 70, key: { remaining: 60, creditsLowThreshold: 70 } });
      // Once each: the next sweep says nothing new about them.
      await s.sweepNow();
      s.clock.advance(5.5 * DAY);
      await s.sweepNow();
      const [day] = await receiver
        .waitFor(2, (r) => r.json?.type === "key.expiring" && forKey(expiring)(r))
        .then((x) => x.slice(1));
      expect(day?.json.data.expiresInDays).toBe(1);
      s.clock.advance(DAY);
      await s.sweepNow();
      await receiver.waitFor(1, (r) => r.json?.type === "key.expired" && forKey(expiring)(r));
      await new Promise((resolve) => setTimeout(resolve, 500));
      const about = (type: string, id: string) =>
        receiver.requests.filter((r) => r.json?.type === type && forKey(id)(r));
      expect(about("key.expiring", expiring)).toHaveLength(2);
      expect(about("key.expired", expiring)).toHaveLength(1);
      expect(about("key.credits_low", raised)).toHaveLength(1);
    });

    it("disables an endpoint that has failed for 3 days, and mails the admins", async () => {
      const dead = await startReceiver(() => 503);
      try {
        const created = await s.direct.createWebhookEndpoint({ url: dead.url, eventTypes: ["key.created"] }, admin);
        const id = created.endpoint?.id as string;
        await createKey("for the dead one");
        // Four attempts on the short schedule, all failed: the delivery ends failed, the endpoint failing since then.
        await dead.waitFor(4);
        const failing = await eventually(async () => {
          const got = await s.direct.getWebhookEndpoint({ id });
          expect(got.endpoint?.failingSince).toBeDefined();
          return got.endpoint;
        });
        expect(failing?.enabled).toBe(true);
        s.clock.advance(3 * DAY + 1000);
        await createKey("the last straw");
        const off = await eventually(async () => {
          const got = await s.direct.getWebhookEndpoint({ id });
          expect(got.endpoint?.enabled).toBe(false);
          return got.endpoint;
        });
        expect(off?.disabledReason).toMatch(/failed for 3 days/);
        const [mail] = await s.smtp.waitFor(1, (m) => m.subject.includes("webhook endpoint"));
        expect(mail?.to).toEqual(["admin@example.com"]);
        expect(mail?.text).toContain(id);
        expect(mail?.text).not.toContain(created.secret.slice(6));
        const audit = await s.direct.listAuditEvents({ action: "webhook.auto_disable" });
        expect(audit.events[0]?.summary).toContain(id);
        // Enabled again by an admin: a fresh start.
        const on = await s.direct.updateWebhookEndpoint(
          { id, updateMask: { paths: ["enabled"] }, enabled: true },
          admin,
        );
        expect(on.endpoint?.disabledReason).toBe("");
        expect(on.endpoint?.failingSince).toBeUndefined();
        await s.direct.deleteWebhookEndpoint({ id }, admin);
      } finally {
        await dead.close();
      }
    });

    it("never logs a token or a webhook secret", () => {
      const logged = JSON.stringify(captured.lines());
      expect(logged.length).toBeGreaterThan(0);
      expect(logged).not.toContain(secret.slice(6));
      for (const token of tokens) expect(logged).not.toContain(token);
    });
  });
}

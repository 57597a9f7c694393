import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseLeakKeys } from "../../../src/gateway/leak-reports.js";
import { KeyStatus } from "../../../src/gen/keyward/v1/key_pb.js";
import { LeakAction } from "../../../src/gen/keyward/v1/webhook_pb.js";
import { generateToken } from "../../../src/service/keys/token.js";
import { asActor } from "../../../src/shared/contract/service-client.js";
import { type Receiver, startReceiver } from "../webhooks/receiver.js";
import { captureLogger, type Stack, startStack } from "../workers/harness.js";

/**
 * Leaked keys are stopped: POST /leaks in GitHub's secret-scanning partner
 * format, signed with a key pair made here (as GitHub's are: ECDSA P-256),
 * revokes a live key at once, audits and announces it, and answers each
 * token as GitHub expects; anything else changes nothing.
 */
const github = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const stranger = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const KEY_ID = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a";
const PUBLIC_KEYS = JSON.stringify({
  public_keys: [
    { key_identifier: KEY_ID, key: github.publicKey.export({ type: "spki", format: "pem" }), is_current: true },
  ],
});
const admin = asActor({ name: "admin@example.com" });
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

let s: Stack;
let receiver: Receiver;
const captured = captureLogger("debug");

beforeAll(async () => {
  s = await startStack({
    logger: captured.logger,
    env: { KEYWARD_LEAK_PUBLIC_KEYS: PUBLIC_KEYS, KEYWARD_LEAK_RATE_LIMIT: "40" },
    workerOptions: { relayWaitMs: 200, webhookRetryDelaysMs: [100] },
  });
  receiver = await startReceiver();
  await s.direct.createWebhookEndpoint({ url: receiver.url, eventTypes: ["key.leaked", "key.revoked"] }, admin);
});
afterAll(async () => {
  await s?.close();
  await receiver?.close();
});

async function report(
  items: unknown,
  options: { key?: typeof github.privateKey | null; identifier?: string; raw?: string } = {},
) {
  const body = options.raw ?? JSON.stringify(items);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.key !== null) {
    headers["github-public-key-identifier"] = options.identifier ?? KEY_ID;
    headers["github-public-key-signature"] = sign(
      "sha256",
      Buffer.from(body),
      options.key ?? github.privateKey,
    ).toString("base64");
  }
  const res = await fetch(`${s.url}/leaks`, { method: "POST", headers, body });
  return { status: res.status, body: (await res.json()) as unknown };
}

const item = (token: string, url = "https://github.com/octo/repo/blob/abc/config.js") => ({
  token,
  type: "keyward_api_key",
  url,
  source: "content",
});

describe("POST /leaks", () => {
  it("revokes a live key at once and answers true_positive with the token's hash", async () => {
    const created = await s.direct.createKey({ name: "leaky", claims: { email: "owner@example.com" } }, admin);
    const id = created.key?.id as string;
    const url = "https://github.com/octo/repo/blob/abc/config.js";
    const answer = await report([item(created.token, url)]);
    expect(answer).toEqual({
      status: 200,
      body: [{ token_hash: sha256(created.token), token_type: "keyward_api_key", label: "true_positive" }],
    });
    const key = (await s.direct.getKey({ id })).key;
    expect(key?.status).toBe(KeyStatus.REVOKED);
    expect(key?.revocationReason).toBe(`leaked: ${url}`);
    expect((await s.direct.verifyKey({ token: created.token })).valid).toBe(false);

    const audit = await s.direct.listAuditEvents({ keyId: id, action: "key.leak" });
    expect(audit.events).toHaveLength(1);
    expect(audit.events[0]?.summary).toContain("GitHub secret scanning (content)");
    expect(audit.events[0]?.summary).toContain(url);
    expect(audit.events[0]?.actor).toBe("secret-scanning");

    const hooks = await receiver.waitFor(2, (r) => r.json?.data?.key?.id === id);
    expect(hooks.map((r) => r.json.type)).toEqual(["key.leaked", "key.revoked"]);
    expect(hooks[0]?.json.data.leak).toEqual({ url, source: "GitHub secret scanning (content)", action: "revoke" });
    expect(hooks[0]?.body).not.toContain(created.token);

    const mails = await s.smtp.waitFor(2, (m) => m.subject.includes("leaked"));
    expect(mails.flatMap((m) => m.to).sort()).toEqual(["admin@example.com", "owner@example.com"]);
    expect(mails[0]?.text).toContain(url);
    expect(mails[0]?.text).not.toContain(created.token);

    // Reported again from elsewhere: still a true positive, nothing more happens.
    const again = await report([item(created.token, "https://gist.github.com/x")]);
    expect((again.body as Array<{ label: string }>)[0]?.label).toBe("true_positive");
    expect((await s.direct.listAuditEvents({ keyId: id, action: "key.leak" })).events).toHaveLength(1);
  });

  it("answers false_positive for unknown, malformed and dead tokens, and changes nothing", async () => {
    const revoked = await s.direct.createKey({ name: "old" }, admin);
    await s.direct.deleteKey({ id: revoked.key?.id as string, reason: "old" }, admin);
    const before = (await s.direct.listAuditEvents({ pageSize: 100 })).events.length;
    const unknown = generateToken("kw");
    const malformed = `${unknown.slice(0, -1)}${unknown.endsWith("A") ? "B" : "A"}`;
    const tokens = [unknown, malformed, "not a token", revoked.token, "x".repeat(5000), "kw_\u0000"];
    const answer = await report(tokens.map((t) => item(t)));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(
      tokens.map((t) => ({ token_hash: sha256(t), token_type: "keyward_api_key", label: "false_positive" })),
    );
    expect((await s.direct.listAuditEvents({ pageSize: 100 })).events.length).toBe(before);
    expect((await s.direct.getKey({ id: revoked.key?.id as string })).key?.revocationReason).toBe("old");
    expect(await report([])).toEqual({ status: 200, body: [] });
  });

  it("refuses unsigned, badly signed and malformed reports", async () => {
    const live = await s.direct.createKey({ name: "safe" }, admin);
    const items = [item(live.token)];
    expect((await report(items, { key: null })).status).toBe(401);
    expect((await report(items, { key: stranger.privateKey })).status).toBe(401);
    expect((await report(items, { identifier: "unknown" })).status).toBe(401);
    const body = JSON.stringify(items);
    const tampered = await fetch(`${s.url}/leaks`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "github-public-key-identifier": KEY_ID,
        "github-public-key-signature": sign("sha256", Buffer.from(body), github.privateKey).toString("base64"),
      },
      body: body.replace("content", "contenT"),
    });
    expect(tampered.status).toBe(401);
    expect((await s.direct.getKey({ id: live.key?.id as string })).key?.status).toBe(KeyStatus.ACTIVE);
    expect((await report(undefined, { raw: "{not json" })).status).toBe(400);
    expect((await report(undefined, { raw: '{"token":"x"}' })).status).toBe(400);
    expect((await report([{ token: 5 }])).status).toBe(400);
  });

  it("ReportLeak can disable instead, and validates its input", async () => {
    const created = await s.direct.createKey({ name: "to disable" }, admin);
    const answer = await s.direct.reportLeak(
      { token: created.token, url: "https://example.com/paste", source: "test", action: LeakAction.DISABLE },
      admin,
    );
    expect(answer).toMatchObject({ truePositive: true, keyId: created.key?.id });
    const key = (await s.direct.getKey({ id: created.key?.id as string })).key;
    expect(key?.status).toBe(KeyStatus.DISABLED);
    const bad = await s.direct.reportLeak({ token: created.token, url: "" }, admin).catch((e: ConnectError) => e);
    expect(bad).toBeInstanceOf(ConnectError);
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
    expect((bad as ConnectError).rawMessage).toMatch(/^url: /);
    const action = await s.direct
      .reportLeak({ token: created.token, url: "https://x", action: 9 as LeakAction }, admin)
      .catch((e: ConnectError) => e);
    expect((action as ConnectError).rawMessage).toMatch(/^action: /);
  });

  it("never logs a token", () => {
    const logged = JSON.stringify(captured.lines());
    expect(logged).not.toMatch(/kw_[0-9A-Za-z]{38}/);
  });

  it("limits reports per address", async () => {
    let status = 200;
    for (let i = 0; i < 60 && status !== 429; i++) status = (await report([])).status;
    expect(status).toBe(429);
  });
});

describe("KEYWARD_LEAK_PUBLIC_KEYS", () => {
  it("takes PEM keys or GitHub's JSON, and refuses what is not an ECDSA P-256 key", () => {
    const pem = github.publicKey.export({ type: "spki", format: "pem" }) as string;
    expect(parseLeakKeys(pem)?.anonymous).toHaveLength(1);
    expect(parseLeakKeys(PUBLIC_KEYS)?.byId.has(KEY_ID)).toBe(true);
    expect(parseLeakKeys(undefined)).toBeUndefined();
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" });
    expect(() => parseLeakKeys(rsa as string)).toThrow(/KEYWARD_LEAK_PUBLIC_KEYS: key 1 is not an ECDSA P-256 key/);
    expect(() => parseLeakKeys("garbage")).toThrow(/KEYWARD_LEAK_PUBLIC_KEYS/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asActor } from "../../../src/shared/contract/service-client.js";
import { type Stack, sleep, startStack } from "./harness.js";

/**
 * Reminders: the digest lists keys that came within 7 days of their expiry
 * and keys low on credits, and a key whose claims.email is an address gets
 * its own reminder, once per notice.
 */
let s: Stack;
const ids: Record<string, string> = {};
const tokens: string[] = [];
const admin = asActor({ name: "admin@example.com" });

beforeAll(async () => {
  s = await startStack();
  const make = async (name: string, extra: Record<string, unknown>) => {
    const created = await s.direct.createKey({ name, ...extra }, admin);
    ids[name] = created.key?.id as string;
    tokens.push(created.token);
    return created.token;
  };
  await make("soon", { expiresInSeconds: 5 * 86_400, claims: { email: "sam@example.com" } });
  await make("soon, nobody's", { expiresInSeconds: 3 * 86_400 });
  const low = await make("thirsty", {
    refill: { interval: 2, amount: 1000n, dayOfMonth: 1 },
    claims: { email: "tia@example.com" },
  });
  await s.direct.verifyKey({ token: low, cost: 950n });
  await make("fine", { expiresInSeconds: 30 * 86_400, claims: { email: "fin@example.com" } });
});
afterAll(async () => {
  await s?.close();
});

describe("reminders", () => {
  it("the digest lists expiring and low-credit keys; owners get their own reminder", async () => {
    const swept = await s.sweepNow();
    expect([...swept.expiringSoon].sort()).toEqual([ids.soon, ids["soon, nobody's"]].sort());
    expect(swept.creditsLow).toEqual([ids.thirsty]);
    expect(swept.reminded.sort()).toEqual([`credits_low:${ids.thirsty}`, `expiring:${ids.soon}`].sort());

    const [digest] = await s.smtp.waitFor(
      1,
      (m) => m.to.includes("admin@example.com") && m.subject.startsWith("Keyward:"),
    );
    expect(digest?.subject).toContain("2 keys expiring soon");
    expect(digest?.subject).toContain("1 key low on credits");
    expect(digest?.text).toContain("Expiring within 7 days: 2");
    expect(digest?.text).toContain("Low on credits: 1");
    expect(digest?.text).toContain("thirsty");
    expect(digest?.text).toContain("50 credits left");

    const [sam] = await s.smtp.waitFor(1, (m) => m.to.includes("sam@example.com"));
    // The harness's MIME reading leaves a space between encoded words: compare without spaces.
    expect(sam?.subject.replace(/\s+/g, "")).toMatch(/^Keyward:yourkey"soon"expires\d{4}-\d{2}-\d{2}$/);
    expect(sam?.text).toContain("expires on ");
    const [tia] = await s.smtp.waitFor(1, (m) => m.to.includes("tia@example.com"));
    expect(tia?.subject.replace(/\s+/g, "")).toBe('Keyward:yourkey"thirsty"islowoncredits');
    expect(tia?.text).toContain("has 50 credits left");
    expect(s.smtp.mails.some((m) => m.to.includes("fin@example.com"))).toBe(false);
    for (const mail of s.smtp.mails) for (const token of tokens) expect(mail.raw).not.toContain(token);
  });

  it("says each thing once: the next sweep mails nobody", async () => {
    const before = s.smtp.mails.length;
    const swept = await s.sweepNow();
    expect(swept.expiringSoon).toEqual([]);
    expect(swept.creditsLow).toEqual([]);
    await sleep(300);
    expect(s.smtp.mails.length).toBe(before);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./harness.js";

/**
 * Who did it: the audit log names the acting admin as a person (any Unicode
 * name) and by the key they acted with; the names the service keeps for
 * itself cannot be borrowed through a key's claims.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

async function actAs(email: string) {
  const admin = await h.consoleKey("admin", email);
  const client = h.client(admin.token);
  const { key } = await client.keys.create.mutate({ name: `made by ${email}` });
  await client.keys.update.mutate({ id: key.id, description: "edited" });
  await client.keys.rotate.mutate({ id: key.id, gracePeriodSeconds: 0 });
  const events = (await client.audit.list.query({ keyId: key.id })).events;
  return { admin, client, key, events };
}

describe("names of people are Unicode", () => {
  it.each([
    ["Latin-1", "josé@example.com"],
    ["CJK", "山田太郎@例え.jp"],
    ["emoji", "ops🚀@example.com"],
  ])("an admin whose email is %s can write, and is recorded exactly", async (_kind, email) => {
    const { admin, client, key, events } = await actAs(email);
    expect(key.createdBy).toBe(email);
    expect(events.map((e) => [e.actor, e.actorKeyId, e.action])).toEqual([
      [email, admin.id, "key.rotate"],
      [email, admin.id, "key.update"],
      [email, admin.id, "key.create"],
    ]);
    expect((await client.me.query()).email).toBe(email);
    const exportRequest = await client.exports.create.mutate({ resource: "api_keys" });
    expect(exportRequest.export.requestedBy).toBe(email);
  });
});

describe("reserved names, and names no log should carry", () => {
  it.each([
    "service",
    "bootstrap",
    "ops\u001b]0;pwned\u0007@example.com",
    "Bootstrap",
    "keyward",
  ])("an admin key whose email claim is %j acts as key:<id>, never under that name", async (email) => {
    const { admin, key, events } = await actAs(email);
    const actor = `key:${admin.id}`;
    expect(key.createdBy).toBe(actor);
    expect(events.map((e) => [e.actor, e.actorKeyId, e.action])).toEqual([
      [actor, admin.id, "key.rotate"],
      [actor, admin.id, "key.update"],
      [actor, admin.id, "key.create"],
    ]);
  });

  it("an admin key claiming someone else's email is recorded with its own key id beside the name", async () => {
    const { admin, events } = await actAs("ceo@example.com");
    for (const event of events) expect(event).toMatchObject({ actor: "ceo@example.com", actorKeyId: admin.id });
  });

  it("the service's own actions name no key", async () => {
    const admin = h.client((await h.consoleKey("admin")).token);
    const events = (await admin.audit.list.query({ actor: "harness" })).events;
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) expect(event.actorKeyId).toBeNull();
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliInProcess, tokensIn } from "../cli/run-cli.js";
import { failure, type Harness, startHarness, UNKNOWN_ID } from "./harness.js";

/** webhooks.* and keys.reportLeak through the gateway, and the CLI on top of them. */
let h: Harness;
let admin: { id: string; token: string };
let member: { id: string; token: string };
beforeAll(async () => {
  h = await startHarness();
  admin = await h.consoleKey("admin", "ana@example.com");
  member = await h.consoleKey("member", "mo@example.com");
});
afterAll(async () => {
  await h.close();
});

const cli = (argv: string[], token = admin.token) =>
  runCliInProcess(argv, false, { KEYWARD_URL: h.url, KEYWARD_TOKEN: token });

describe("webhooks.*", () => {
  it("admins register endpoints (the secret once); members read them, never the secret", async () => {
    const created = await h.client(admin.token).webhooks.create.mutate({
      url: "https://hooks.example.com/keyward?team=ops",
      description: "ops",
      eventTypes: ["key.leaked", "key.revoked"],
    });
    expect(created.secret).toMatch(/^whsec_/);
    expect(created.endpoint).toMatchObject({
      url: "https://hooks.example.com/keyward?team=ops",
      eventTypes: ["key.leaked", "key.revoked"],
      enabled: true,
      createdBy: "ana@example.com",
      disabledReason: null,
      failingSince: null,
    });
    const asMember = h.client(member.token);
    const listed = await asMember.webhooks.list.query();
    expect(listed.endpoints.map((e) => e.id)).toContain(created.endpoint.id);
    expect(JSON.stringify(listed)).not.toContain(created.secret.slice(6));
    const got = await asMember.webhooks.get.query({ id: created.endpoint.id });
    expect(JSON.stringify(got)).not.toContain(created.secret.slice(6));
    expect(await failure(asMember.webhooks.create.mutate({ url: "https://x.example.com" }))).toMatchObject({
      status: 403,
    });
    expect(await failure(asMember.webhooks.delete.mutate({ id: created.endpoint.id }))).toMatchObject({ status: 403 });

    const updated = await h.client(admin.token).webhooks.update.mutate({ id: created.endpoint.id, enabled: false });
    expect(updated.enabled).toBe(false);
    const attempts = await asMember.webhooks.attempts.query({ endpointId: created.endpoint.id });
    expect(attempts).toEqual({ attempts: [], nextPageToken: null });
    await h.client(admin.token).webhooks.delete.mutate({ id: created.endpoint.id });
    expect(await failure(asMember.webhooks.get.query({ id: created.endpoint.id }))).toMatchObject({ status: 404 });
  });

  it("answers bad input with 400 naming the field, unknown ids with 404", async () => {
    const c = h.client(admin.token);
    expect(await failure(c.webhooks.create.mutate({ url: "ftp://x.example.com" }))).toMatchObject({
      status: 400,
      field: "url",
    });
    const withPassword = await failure(c.webhooks.create.mutate({ url: "https://u:secretpw@x.example.com" }));
    expect(withPassword).toMatchObject({ status: 400, field: "url" });
    expect(withPassword.message).not.toContain("secretpw");
    expect(
      await failure(
        c.webhooks.create.mutate({ url: "https://x.example.com", eventTypes: ["key.nope" as "key.created"] }),
      ),
    ).toMatchObject({ status: 400, field: "eventTypes[0]" });
    expect(await failure(c.webhooks.get.query({ id: UNKNOWN_ID }))).toMatchObject({ status: 404 });
    expect(await failure(c.webhooks.update.mutate({ id: UNKNOWN_ID, enabled: true }))).toMatchObject({ status: 404 });
    expect(await failure(c.webhooks.update.mutate({ id: UNKNOWN_ID }))).toMatchObject({ status: 400 });
    expect(await failure(c.webhooks.resend.mutate({ endpointId: UNKNOWN_ID, eventId: "msg_nope" }))).toMatchObject({
      status: 400,
      field: "eventId",
    });
    expect(
      await failure(c.webhooks.resend.mutate({ endpointId: UNKNOWN_ID, eventId: `msg_${"a".repeat(32)}` })),
    ).toMatchObject({ status: 404 });
    expect(await failure(c.webhooks.attempts.query({ endpointId: UNKNOWN_ID }))).toMatchObject({ status: 404 });
  });
});

describe("keyward webhooks and keys report-leak", () => {
  it("creates, lists, shows, updates, lists attempts of and deletes an endpoint", async () => {
    const created = await cli([
      "webhooks",
      "create",
      "--url",
      "https://hooks.example.com/a",
      "--event",
      "key.leaked",
      "--json",
    ]);
    expect(created.code).toBe(0);
    const body = JSON.parse(created.stdout) as { endpoint: { id: string }; secret: string };
    const id = body.endpoint.id;
    const table = await cli(["webhooks", "create", "--url", "https://hooks.example.com/b"]);
    expect(table.stdout).toMatch(/Copy this signing secret now/);
    expect(table.stdout).toMatch(/whsec_/);

    const list = await cli(["webhooks", "list"], member.token);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(id);
    expect(list.stdout).not.toContain(body.secret);
    const get = await cli(["webhooks", "get", id]);
    expect(get.stdout).toMatch(/Events\s+key\.leaked/);
    const off = await cli(["webhooks", "update", id, "--disable", "--all-events"]);
    expect(off.code).toBe(0);
    expect(off.stdout).toMatch(/Enabled\s+no/);
    expect(off.stdout).toMatch(/Events\s+every type/);
    const nothing = await cli(["webhooks", "update", id]);
    expect(nothing.code).toBe(2);
    const badEvent = await cli(["webhooks", "create", "--url", "https://x.example.com", "--event", "key.nope"]);
    expect(badEvent.code).toBe(2);
    const attempts = await cli(["webhooks", "attempts", id]);
    expect(attempts.stdout).toContain("No attempts.");
    const deleted = await cli(["webhooks", "delete", id]);
    expect(deleted.stdout).toContain(`Deleted webhook endpoint ${id}.`);
  });

  it("keys report-leak revokes a live key and never prints the token", async () => {
    const { key, token } = await h.client(admin.token).keys.create.mutate({ name: "found on a paste site" });
    const found = await cli(["keys", "report-leak", token, "--url", "https://paste.example.com/abc"]);
    expect(found.code).toBe(0);
    expect(found.stdout).toContain(`Key ${key.id} was live: it is now revoked`);
    expect(tokensIn(found.stdout + found.stderr)).toEqual([]);
    const after = await h.client(admin.token).keys.get.query({ id: key.id });
    expect(after).toMatchObject({ status: "revoked", revocationReason: "leaked: https://paste.example.com/abc" });
    const audit = await h.client(admin.token).audit.list.query({ keyId: key.id, action: "key.leak" });
    expect(audit.events[0]?.summary).toContain("reported by ana@example.com");

    const again = await cli(["keys", "report-leak", "kw_notatoken", "--url", "https://paste.example.com/abc"]);
    expect(again.stdout).toContain("Not a live Keyward key");
    const asMember = await cli(["keys", "report-leak", token, "--url", "https://x"], member.token);
    expect(asMember.code).not.toBe(0);
  });
});

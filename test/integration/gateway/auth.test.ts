import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asActor } from "../../../src/shared/contract/service-client.js";
import { eventually, failure, type Harness, startHarness } from "./harness.js";

/** Admins are keys too: sign-in by Bearer token, roles by scope, checked on every call. */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const call = (token: string | undefined, path = "me", init: RequestInit = {}) =>
  fetch(`${h.url}/trpc/${path}`, {
    ...init,
    headers: { ...(token === undefined ? {} : { authorization: token }), ...(init.headers ?? {}) },
  });

describe("sign-in", () => {
  it("me names the admin and the member from claims.email", async () => {
    const admin = await h.consoleKey("admin", "ops@example.com");
    const member = await h.consoleKey("member", "dev@example.com");
    await expect(h.client(admin.token).me.query()).resolves.toMatchObject({
      email: "ops@example.com",
      role: "admin",
      keyId: admin.id,
      scopes: ["console:admin"],
    });
    await expect(h.client(member.token).me.query()).resolves.toMatchObject({
      email: "dev@example.com",
      role: "member",
    });
  });

  it("no Authorization header, a non-Bearer header, a malformed or unknown token: 401", async () => {
    expect((await call(undefined)).status).toBe(401);
    expect((await call("Basic dXNlcjpwYXNz")).status).toBe(401);
    expect((await call("Bearer not-a-token")).status).toBe(401);
    expect((await call(`Bearer kw_${"A".repeat(38)}`)).status).toBe(401);
  });

  it("a valid key without a console scope: 403", async () => {
    const other = await h.consoleKey("other");
    const res = await call(`Bearer ${other.token}`);
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/console:admin or console:member/);
  });

  it("a revoked admin key is 401 on the very next call", async () => {
    const admin = await h.consoleKey("admin", "leaver@example.com");
    const client = h.client(admin.token);
    await expect(client.keys.list.query()).resolves.toBeDefined();
    await h.service.deleteKey({ id: admin.id, reason: "left the company" }, asActor("harness"));
    expect(await failure(client.keys.list.query())).toMatchObject({
      status: 401,
      message: "this key has been revoked",
    });
  });

  it("a disabled or expired admin key is 401", async () => {
    const disabled = await h.consoleKey("admin");
    await h.service.updateKey(
      { id: disabled.id, enabled: false, updateMask: { paths: ["enabled"] } },
      asActor("harness"),
    );
    expect(await failure(h.client(disabled.token).me.query())).toMatchObject({
      status: 401,
      message: "this key is disabled",
    });

    const { key, token } = await h.service.createKey(
      { name: "short-lived", scopes: ["console:admin"], claims: { email: "temp@example.com" }, expiresInSeconds: 1 },
      asActor("harness"),
    );
    expect(key).toBeDefined();
    await eventually(async () => {
      expect(await failure(h.client(token).me.query())).toMatchObject({ status: 401, message: "this key has expired" });
    }, 4000);
  });

  it("a member reads everything but changes nothing (403)", async () => {
    const member = h.client((await h.consoleKey("member")).token);
    const admin = h.client((await h.consoleKey("admin")).token);
    const { key } = await admin.keys.create.mutate({ name: "target" });
    await expect(member.keys.list.query()).resolves.toBeDefined();
    await expect(member.keys.get.query({ id: key.id })).resolves.toBeDefined();
    await expect(member.keys.usage.query({ id: key.id })).resolves.toBeDefined();
    await expect(member.keys.logs.query({ id: key.id })).resolves.toBeDefined();
    await expect(member.audit.list.query()).resolves.toBeDefined();
    await expect(member.exports.list.query()).resolves.toBeDefined();
    for (const write of [
      member.keys.create.mutate({ name: "x" }),
      member.keys.update.mutate({ id: key.id, name: "x" }),
      member.keys.delete.mutate({ id: key.id }),
      member.keys.rotate.mutate({ id: key.id }),
    ]) {
      expect(await failure(write)).toMatchObject({ status: 403, code: "FORBIDDEN" });
    }
    await expect(admin.keys.get.query({ id: key.id })).resolves.toMatchObject({ name: "target", status: "active" });
  });

  it("a key made through the gateway is created by the admin's email, and the audit log says so", async () => {
    const admin = h.client((await h.consoleKey("admin", "maker@example.com")).token);
    const { key } = await admin.keys.create.mutate({ name: "made" });
    expect(key.createdBy).toBe("maker@example.com");
    const audit = await admin.audit.list.query({ keyId: key.id });
    expect(audit.events[0]).toMatchObject({ actor: "maker@example.com", action: "key.create" });
  });

  it("a batch is authenticated once: one verification of the admin key", async () => {
    const admin = await h.consoleKey("admin", "batch@example.com");
    const client = h.client(admin.token);
    await Promise.all([client.me.query(), client.keys.list.query(), client.audit.list.query()]);
    const entry = await eventually(async () => {
      const logs = await client.keys.logs.query({ id: admin.id });
      // The batch above, and the logs call itself, may or may not be flushed yet: wait for the first.
      expect(logs.logs.length).toBeGreaterThanOrEqual(1);
      return logs.logs[logs.logs.length - 1];
    });
    expect(entry).toMatchObject({ code: "valid", method: "GET", ip: "127.0.0.1" });
    expect(entry?.path).toBe("/trpc/me,keys.list,audit.list");
    await eventually(async () => {
      const logs = await h.service.listKeyLogs({ id: admin.id });
      expect(logs.logs.filter((l) => l.path === "/trpc/me,keys.list,audit.list")).toHaveLength(1);
    });
  });
});

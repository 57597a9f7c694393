import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Harness, startHarness, UNKNOWN_ID } from "../gateway/harness.js";
import { runCli, tokensIn } from "./run-cli.js";

// Each run of the CLI is a fresh Node process (about a second, more on a busy machine).
vi.setConfig({ testTimeout: 120_000 });

let h: Harness;
let env: Record<string, string>;
let memberEnv: Record<string, string>;
beforeAll(async () => {
  h = await startHarness();
  env = { KEYWARD_URL: h.url, KEYWARD_TOKEN: (await h.consoleKey("admin", "ops@example.com")).token };
  memberEnv = { KEYWARD_URL: h.url, KEYWARD_TOKEN: (await h.consoleKey("member", "dev@example.com")).token };
});
afterAll(async () => {
  await h.close();
});

const keyward = (...args: string[]) => runCli(args, env);

describe("keyward keys", () => {
  it("create prints the token once, with the warning, and the key works", async () => {
    const r = await keyward(
      "keys",
      "create",
      "--name",
      "Production",
      "--domain",
      "dom_1",
      "--scope",
      "read:users",
      "--scope",
      "write:users",
      "--claims",
      '{"plan":"pro"}',
      "--expires-in",
      "30d",
      "--cidr",
      "10.0.0.0/8",
      "--subject",
      "org_456",
      "--description",
      "sends mail",
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const tokens = tokensIn(r.stdout);
    expect(tokens).toHaveLength(1);
    expect(r.stdout).toContain("it will not be shown again");
    expect(r.stdout).toMatch(/^Created key "Production" \([0-9a-f-]{36}\)\./);
    const verified = await h.service.verifyKey({ token: tokens[0] as string, context: { ip: "10.1.1.1" } });
    expect(verified.valid).toBe(true);
    expect(verified.key).toMatchObject({
      name: "Production",
      domainId: "dom_1",
      subject: "org_456",
      scopes: ["read:users", "write:users"],
    });
    expect(verified.key?.claims).toEqual({ plan: "pro" });
    const expires = Number(verified.key?.expireTime?.seconds) * 1000 - Date.now();
    expect(Math.abs(expires - 30 * 86_400_000)).toBeLessThan(60_000);
  });

  it("create --json prints the key and the token for scripts", async () => {
    const r = await keyward(
      "keys",
      "create",
      "--name",
      "scripted",
      "--permission",
      "sending_access",
      "--disabled",
      "--json",
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { key: { name: string; permission: string; enabled: boolean }; token: string };
    expect(out.key).toMatchObject({ name: "scripted", permission: "sending_access", enabled: false });
    expect(tokensIn(r.stdout)).toEqual([out.token]);
  });

  it("list prints an aligned table with relative times, and --json the page", async () => {
    await keyward("keys", "create", "--name", "listed one");
    const table = await keyward("keys", "list");
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+NAME\s+STATUS\s+PERMISSION\s+TOKEN\s+LAST USED\s+CREATED$/);
    const row = lines.find((l) => l.includes("listed one")) ?? "";
    expect(row).toMatch(/active\s+full_access\s+kw_\S+\s+never\s+just now$/);
    // Columns line up: STATUS starts at the same offset in the header and the row.
    expect(row.indexOf("active")).toBe(lines[0]?.indexOf("STATUS"));
    // Not a terminal: no colour codes.
    expect(table.stdout).not.toContain("\u001b[");
    expect(tokensIn(table.stdout)).toEqual([]);

    const json = await keyward("keys", "list", "--json", "--limit", "2");
    expect(json.code).toBe(0);
    const page = JSON.parse(json.stdout) as { keys: { name: string }[]; nextPageToken: string | null };
    expect(page.keys).toHaveLength(2);
    expect(page.keys[0]?.name).toBe("listed one");
    expect(page.nextPageToken).toEqual(expect.any(String));

    const all = JSON.parse((await keyward("keys", "list", "--json", "--all", "--limit", "1")).stdout) as {
      keys: unknown[];
    };
    expect(all.keys.length).toBeGreaterThanOrEqual(3);
  });

  it("get, update, rotate and delete a key", async () => {
    const created = JSON.parse((await keyward("keys", "create", "--name", "lifecycle", "--json")).stdout) as {
      key: { id: string };
      token: string;
    };
    const id = created.key.id;

    const get = await keyward("keys", "get", id);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(/^ID\s+[0-9a-f-]{36}$/m);
    expect(get.stdout).toMatch(/^Name\s+lifecycle$/m);
    expect(get.stdout).toMatch(/^Created\s+.*\(just now\) by ops@example.com$/m);

    const update = await keyward("keys", "update", id, "--name", "renamed", "--disable", "--scope", "a:b");
    expect(update.code).toBe(0);
    expect(update.stdout).toMatch(/^Status\s+disabled$/m);
    const got = JSON.parse((await keyward("keys", "get", id, "--json")).stdout) as {
      name: string;
      enabled: boolean;
      scopes: string[];
    };
    expect(got).toMatchObject({ name: "renamed", enabled: false, scopes: ["a:b"] });

    const rotate = await keyward("keys", "rotate", id, "--grace", "1h");
    expect(rotate.code).toBe(0);
    const newTokens = tokensIn(rotate.stdout);
    expect(newTokens).toHaveLength(1);
    expect(newTokens[0]).not.toBe(created.token);
    expect(rotate.stdout).toContain("keeps working until");
    expect(rotate.stdout).toContain("it will not be shown again");

    const del = await keyward("keys", "delete", id, "--reason", "leaked");
    expect(del.code).toBe(0);
    expect(del.stdout).toBe(`Revoked key "renamed" (${id}).\n`);
    const revoked = JSON.parse((await keyward("keys", "list", "--status", "revoked", "--json")).stdout) as {
      keys: { id: string }[];
    };
    expect(revoked.keys.map((k) => k.id)).toContain(id);
  });

  it("usage and logs print a table", async () => {
    const { key, token } = await h.service.createKey({ name: "busy" }, { headers: { "keyward-actor": "harness" } });
    await h.service.verifyKey({ token, context: { ip: "10.0.0.9", method: "POST", path: "/emails" } });
    const id = key?.id ?? "";
    const usage = await keyward("keys", "usage", id, "--granularity", "day", "--from", "2d");
    expect(usage.code).toBe(0);
    expect(usage.stdout).toMatch(/^START \(UTC\)\s+TOTAL\s+OUTCOMES$/m);
    const logs = await keyward("keys", "logs", id, "--json");
    expect(logs.code).toBe(0);
    expect(JSON.parse(logs.stdout)).toMatchObject({ logs: expect.any(Array) });
  });

  it("me and audit", async () => {
    const me = await keyward("me");
    expect(me.code).toBe(0);
    expect(me.stdout).toMatch(/^ops@example.com \(admin\), signed in with key/);
    const audit = await keyward("audit", "--action", "key.create");
    expect(audit.code).toBe(0);
    expect(audit.stdout).toMatch(/^TIME\s+ACTOR\s+ACTING KEY\s+ACTION\s+KEY\s+SUMMARY$/m);
    expect(audit.stdout).toMatch(/ops@example\.com\s+[0-9a-f-]{36}\s+key\.create/);
  });
});

describe("keyward exit codes and errors", () => {
  it("no KEYWARD_TOKEN: exit 2 and one sentence", async () => {
    const r = await runCli(["keys", "list"], { KEYWARD_URL: h.url });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^keyward: KEYWARD_TOKEN is not set: .*\.\n$/);
  });

  it("an unknown token: exit 1, told to check KEYWARD_TOKEN", async () => {
    const r = await runCli(["keys", "list"], { KEYWARD_URL: h.url, KEYWARD_TOKEN: "kw_nope" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("keyward: invalid API key (check KEYWARD_TOKEN).\n");
  });

  it("a member changing a key: exit 1, 403 explained", async () => {
    const r = await runCli(["keys", "create", "--name", "x"], memberEnv);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^keyward: members can only read; .*\(ask an admin\)\.\n$/);
  });

  it("an unknown id: exit 1", async () => {
    const r = await keyward("keys", "get", UNKNOWN_ID);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^keyward: .*not found.*\n$/);
  });

  it("a bad flag or a bad value: exit 2", async () => {
    const unknown = await keyward("keys", "create", "--name", "x", "--colour", "red");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--colour'/);
    const duration = await keyward("keys", "create", "--name", "x", "--expires-in", "soon");
    expect(duration.code).toBe(2);
    const permission = await keyward("keys", "create", "--name", "x", "--permission", "all");
    expect(permission.code).toBe(2);
    const missing = await keyward("keys", "create");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/required option '--name <name>' not specified/);
    const nothing = await keyward("keys", "update", UNKNOWN_ID);
    expect(nothing.code).toBe(2);
  });

  it("an input the gateway rejects: exit 2 with the flag named", async () => {
    const r = await keyward("keys", "create", "--name", "x".repeat(101));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("keyward: --name: must be 1-100 characters after trimming.\n");
  });

  it("a gateway that is not there: exit 1, says so", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise((resolve) => server.close(resolve));
    const r = await runCli(["keys", "list"], { KEYWARD_URL: `http://127.0.0.1:${port}`, KEYWARD_TOKEN: "kw_x" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^keyward: cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+: connection refused/);
  });

  it("--help lists every command and flag; keys create --help every flag of create", async () => {
    const top = await runCli(["--help"]);
    expect(top.code).toBe(0);
    for (const text of [
      "keyward keys create --name <name>",
      "[--expires-in <duration>]",
      "keyward bootstrap --email <email>",
      "KEYWARD_TOKEN",
    ]) {
      expect(top.stdout).toContain(text);
    }
    const create = await runCli(["keys", "create", "--help"]);
    expect(create.code).toBe(0);
    for (const flag of [
      "--name",
      "--description",
      "--permission",
      "--domain",
      "--subject",
      "--scope",
      "--claims",
      "--expires-in",
      "--cidr",
      "--disabled",
      "--json",
    ]) {
      expect(create.stdout).toContain(flag);
    }
  });
});

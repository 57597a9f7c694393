import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Harness, startHarness } from "../gateway/harness.js";
import { runCli, tokensIn } from "./run-cli.js";

/** `keyward bootstrap`: the first admin key, straight from the service, printed once. */
// Each run of the CLI is a fresh Node process (about a second, more on a busy machine).
vi.setConfig({ testTimeout: 120_000 });

let h: Harness;
let serviceEnv: Record<string, string>;
beforeAll(async () => {
  h = await startHarness();
  // The service's data dir holds its generated service token; bootstrap finds it there.
  serviceEnv = { KEYWARD_DATA_DIR: h.dir, KEYWARD_SERVICE_URL: h.serviceUrl };
});
afterAll(async () => {
  await h.close();
});

describe("keyward bootstrap", () => {
  let firstToken: string;

  it("creates the first admin key and prints it once", async () => {
    const r = await runCli(["bootstrap", "--email", "ops@example.com"], serviceEnv);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const tokens = tokensIn(r.stdout);
    expect(tokens).toHaveLength(1);
    expect(r.stdout).toContain("it will not be shown again");
    firstToken = tokens[0] as string;

    // The key signs in to the gateway as an admin.
    const me = await runCli(["me", "--json"], { KEYWARD_URL: h.url, KEYWARD_TOKEN: firstToken });
    expect(me.code).toBe(0);
    expect(JSON.parse(me.stdout)).toMatchObject({ email: "ops@example.com", role: "admin" });
  });

  it("refuses a second time (exit 1) and creates nothing", async () => {
    const before = await h.service.countKeys({ scope: "console:admin" });
    const r = await runCli(["bootstrap", "--email", "other@example.com"], serviceEnv);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^keyward: an admin key already exists .*--force.*\.\n$/);
    const after = await h.service.countKeys({ scope: "console:admin" });
    expect(after.count).toBe(before.count);
  });

  it("creates another with --force, recorded in its description and the audit log", async () => {
    const r = await runCli(["bootstrap", "--email", "second@example.com", "--force", "--json"], serviceEnv);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      key: { id: string; description: string; scopes: string[]; claims: object };
      token: string;
    };
    expect(out.key.description).toContain("created with --force");
    expect(out.key.scopes).toEqual(["console:admin"]);
    expect(out.key.claims).toEqual({ email: "second@example.com" });
    const audit = await runCli(["audit", "--actor", "bootstrap", "--json"], {
      KEYWARD_URL: h.url,
      KEYWARD_TOKEN: firstToken,
    });
    const events = (JSON.parse(audit.stdout) as { events: { action: string; keyId: string }[] }).events;
    expect(events.map((e) => e.action)).toEqual(["key.bootstrap", "key.bootstrap"]);
    expect(events[0]?.keyId).toBe(out.key.id);
  });

  it("a bad email is a usage error (exit 2)", async () => {
    const r = await runCli(["bootstrap", "--email", "not-an-email"], serviceEnv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^keyward: --email must be an email address/);
  });

  it("no service token to be found is a usage error, and no token file is made", async () => {
    const empty = mkdtempSync(join(tmpdir(), "keyward-empty-"));
    try {
      const r = await runCli(["bootstrap", "--email", "ops@example.com"], {
        KEYWARD_DATA_DIR: empty,
        KEYWARD_SERVICE_URL: h.serviceUrl,
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/no service token/);
      expect(existsSync(join(empty, "service-token"))).toBe(false);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("a wrong service token or an unreachable service: exit 1 with the reason", async () => {
    const wrong = await runCli(["bootstrap", "--email", "ops@example.com"], {
      ...serviceEnv,
      KEYWARD_SERVICE_TOKEN: "wrong-".repeat(8),
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/rejected the service token/);
    const down = await runCli(["bootstrap", "--email", "ops@example.com"], {
      ...serviceEnv,
      KEYWARD_SERVICE_URL: "http://127.0.0.1:9",
    });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the key service at http:\/\/127\.0\.0\.1:9/);
  });
});

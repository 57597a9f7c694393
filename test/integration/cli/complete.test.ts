import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../gateway/harness.js";
import { runCliInProcess } from "./run-cli.js";

/** The CLI sets everything the gateway accepts, reads words in any case, and names the flag a person typed. */

let h: Harness;
let token: string;
let dir: string;
beforeAll(async () => {
  h = await startHarness();
  token = (await h.consoleKey("admin", "cli@example.com")).token;
  dir = mkdtempSync(join(tmpdir(), "keyward-cli-"));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await h.close();
});

const run = (...argv: string[]) => runCliInProcess(argv, false, { KEYWARD_URL: h.url, KEYWARD_TOKEN: token });
const json = async (...argv: string[]) => {
  const r = await run(...argv, "--json");
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
};

describe("keys create and update set everything", () => {
  it("rate limits, credits, refills, CIDRs and claims", async () => {
    const created = await json(
      "keys",
      "create",
      "--name",
      "full",
      "--ratelimit",
      "api:100/1m",
      "--ratelimit",
      "burst:5/1s",
      "--credits",
      "50",
      "--refill",
      "monthly:1000@15",
      "--cidr",
      "10.0.0.0/8",
      "--claims",
      '{"plan":"pro"}',
    );
    expect(created.key).toMatchObject({
      ratelimits: [
        { name: "api", limit: 100, durationSeconds: 60 },
        { name: "burst", limit: 5, durationSeconds: 1 },
      ],
      remaining: 50,
      refill: { interval: "monthly", amount: 1000, dayOfMonth: 15 },
      allowedCidrs: ["10.0.0.0/8"],
      claims: { plan: "pro" },
    });
    const id = created.key.id as string;
    const updated = await json(
      "keys",
      "update",
      id,
      "--ratelimit",
      "hourly:1/1h",
      "--credits",
      "7",
      "--refill",
      "daily:10",
    );
    expect(updated).toMatchObject({
      ratelimits: [{ name: "hourly", limit: 1, durationSeconds: 3600 }],
      remaining: 7,
      refill: { interval: "daily", amount: 10 },
    });
    const cleared = await json("keys", "update", id, "--clear-ratelimits", "--unlimited", "--clear-refill");
    expect(cleared).toMatchObject({ ratelimits: [], remaining: null, refill: null });
  });

  it("a malformed rule is refused naming the flag", async () => {
    const r = await run("keys", "create", "--name", "x", "--ratelimit", "api-100");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--ratelimit");
    expect(r.stderr).toContain("NAME:LIMIT/DURATION");
  });

  it("what the gateway refuses is reported under the flag typed, not the API's field", async () => {
    const r = await run("keys", "create", "--name", "x", "--ratelimit", "api:0/1m");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^keyward: --ratelimit: /);
    expect(r.stderr).not.toContain("ratelimits[0]");
  });
});

describe("words", () => {
  it("are read in any case", async () => {
    await json("keys", "create", "--name", "worded", "--permission", "Full_Access");
    const active = await json("keys", "list", "--status", "ACTIVE", "--permission", "FULL_ACCESS");
    expect(active.keys.length).toBeGreaterThan(0);
    const logs = await run("exports", "list", "--state", "Ready");
    expect(logs.code).toBe(0);
  });

  it("audit --action takes key.rotate or just rotate", async () => {
    const { key } = await h.client(token).keys.create.mutate({ name: "rotated" });
    await h.client(token).keys.rotate.mutate({ id: key.id, gracePeriodSeconds: 60 });
    for (const action of ["rotate", "key.rotate", "ROTATE"]) {
      const page = await json("audit", "--action", action);
      expect(page.events.length).toBeGreaterThan(0);
      for (const event of page.events) expect(event.action).toBe("key.rotate");
    }
  });

  it("an unknown word is an error listing the allowed ones", async () => {
    const r = await run("audit", "--action", "frobnicate");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("key.rotate");
    expect(r.stderr).toContain("export.create");
    const s = await run("keys", "list", "--status", "nope");
    expect(s.code).toBe(2);
    expect(s.stderr).toContain("active, inactive, expired, revoked, disabled");
  });
});

describe("exports", () => {
  it("a small export is downloaded at once to --output, and can be downloaded again by id", async () => {
    const file = join(dir, "keys.csv");
    const r = await run("exports", "create", "--resource", "API_KEYS", "--output", file);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Wrote \d+ rows \(\d+ bytes\) to /);
    const csv = readFileSync(file, "utf8");
    expect(csv.split("\n")[0]).toContain("name");
    const page = await json("exports", "list");
    const again = join(dir, "again.csv");
    const d = await run("exports", "download", page.exports[0].id, "--output", again);
    expect(d.code).toBe(0);
    expect(readFileSync(again, "utf8")).toBe(csv);
    const exists = await run("exports", "download", page.exports[0].id, "--output", again);
    expect(exists.code).toBe(1);
    expect(exists.stderr).toContain("exists already");
  });

  it("a filter of the other resource is refused naming the flag", async () => {
    const r = await run("exports", "create", "--resource", "api_keys", "--code", "valid");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--code: does not apply to api_keys exports/);
  });
});

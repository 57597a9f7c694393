import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stripColour } from "../../../src/cli/format/color.js";
import { type Harness, startHarness } from "../gateway/harness.js";
import { runCliInProcess } from "./run-cli.js";

/** main() in-process with a pretend terminal: colour only on a TTY, and never with NO_COLOR. */
let h: Harness;
let token: string;
beforeAll(async () => {
  h = await startHarness();
  token = (await h.consoleKey("admin")).token;
  const admin = h.client(token);
  const { key } = await admin.keys.create.mutate({ name: "gone" });
  await admin.keys.delete.mutate({ id: key.id });
  await admin.keys.create.mutate({ name: "live" });
});
afterAll(async () => {
  await h.close();
});

function run(argv: string[], isTTY: boolean, extraEnv: Record<string, string> = {}) {
  return runCliInProcess(argv, isTTY, { KEYWARD_URL: h.url, KEYWARD_TOKEN: token, ...extraEnv });
}

describe("status colour", () => {
  it("is green for active and red for revoked on a terminal", async () => {
    const r = await run(["keys", "list"], true);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("\u001b[32mactive\u001b[39m");
    expect(r.stdout).toContain("\u001b[31mrevoked\u001b[39m");
    // Colour codes do not break the alignment: every row's NAME column starts where the header's does.
    const lines = r.stdout.trimEnd().split("\n").map(stripColour);
    const at = lines[0]?.indexOf("PERMISSION");
    for (const line of lines.slice(1)) expect(line.indexOf("full_access")).toBe(at);
  });

  it("is off when stdout is not a terminal, or NO_COLOR is set", async () => {
    expect((await run(["keys", "list"], false)).stdout).not.toContain("\u001b[");
    expect((await run(["keys", "list"], true, { NO_COLOR: "1" })).stdout).not.toContain("\u001b[");
  });

  it("--json never has colour", async () => {
    const r = await run(["keys", "list", "--json"], true);
    expect(r.stdout).not.toContain("\u001b[");
    expect(JSON.parse(r.stdout).keys).toHaveLength(3);
  });
});

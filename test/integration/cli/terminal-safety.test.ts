import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKeyServiceGrpcClient } from "../../support/grpc-client.js";
import { eventually, type Harness, startHarness } from "../gateway/harness.js";
import { runCliInProcess } from "./run-cli.js";

/**
 * What callers and other admins wrote reaches the terminal with its control
 * characters made visible; --json stays exact. A name that hides text, and a
 * user agent that retitles the terminal and writes the clipboard.
 */

const HIDING_NAME = "visible\u001b[8mhidden\u001b[0m\u202eevil";
const OSC_AGENT = "curl\u001b]0;pwned\u0007\u001b]52;c;ZWNobyBoaQ==\u0007\u009b2J";

let h: Harness;
let token: string;
let keyId: string;
beforeAll(async () => {
  h = await startHarness();
  token = (await h.consoleKey("admin")).token;
  const created = await h.client(token).keys.create.mutate({ name: HIDING_NAME, description: "line1\nline2" });
  keyId = created.key.id;
  const caller = createKeyServiceGrpcClient(h.grpcAddress);
  await caller.unary("verifyKey", {
    token: created.token,
    context: { userAgent: OSC_AGENT, path: "/a\u001b[2Kb", ip: "127.0.0.1", method: "GET" },
  });
  caller.close();
  await eventually(async () => {
    const logs = await h.client(token).keys.logs.query({ id: keyId });
    expect(logs.logs).toHaveLength(1);
  });
});
afterAll(async () => {
  await h.close();
});

function run(argv: string[], isTTY: boolean) {
  return runCliInProcess(argv, isTTY, { KEYWARD_URL: h.url, KEYWARD_TOKEN: token });
}

/** Any escape, C1 control, BEL or bidi override but the CLI's own colour codes. */
function foreignControls(text: string): string[] {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what the test looks for.
  const own = text.replace(/\u001b\[(?:3[1235]|39|2|22|1)m/g, "");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what the test looks for.
  return own.match(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g) ?? [];
}

describe("terminal output", () => {
  it.each([
    [["keys", "list"]],
    [["keys", "get", "KEY"]],
    [["keys", "logs", "KEY"]],
    [["audit"]],
  ])("%j shows a caller's control characters instead of obeying them, on a terminal or not", async (argv) => {
    for (const isTTY of [true, false]) {
      const r = await run(
        argv.map((a) => (a === "KEY" ? keyId : a)),
        isTTY,
      );
      expect(r.code).toBe(0);
      expect(foreignControls(r.stdout)).toEqual([]);
      if (!isTTY) expect(r.stdout).not.toContain("\u001b");
    }
  });

  it("names and user agents are shown, escapes written out", async () => {
    const list = await run(["keys", "list"], false);
    expect(list.stdout).toContain("visible\\x1b[8mhidden\\x1b[0m\\u{202e}evil");
    const logs = await run(["keys", "logs", keyId], false);
    expect(logs.stdout).toContain("curl\\x1b]0;pwned\\x07\\x1b]52;c;ZWNobyBoaQ==\\x07\\x9b2J");
    const details = await run(["keys", "get", keyId], false);
    expect(details.stdout).toContain("line1\\nline2");
  });

  it("--json stays exact", async () => {
    const r = await run(["keys", "get", keyId, "--json"], true);
    expect(JSON.parse(r.stdout).name).toBe(HIDING_NAME);
    const logs = await run(["keys", "logs", keyId, "--json"], true);
    expect(JSON.stringify(JSON.parse(logs.stdout))).toContain(JSON.stringify(OSC_AGENT).slice(1, -1));
  });
});

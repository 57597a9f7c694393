import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVerifier, type VerifyResult } from "../../../src/client/index.js";
import { freePort } from "../../support/free-port.js";
import { type Keyward, startKeyward } from "./harness.js";

/**
 * Two service processes over one SQLite data directory, a verifier whose
 * target lists both; one is killed (SIGKILL) in the middle of a load, and
 * every verification still comes back VALID from the other. Then: nothing
 * answers at all.
 */

async function verificationsServed(k: Keyward): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${k.child.connectPort}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("keyward_verifications_total")) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

describe("a replica killed under load", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "keyward-replicas-"));
  let a: Keyward;
  let b: Keyward;
  beforeAll(async () => {
    a = await startKeyward({}, dataDir);
    b = await startKeyward({}, dataDir);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("is retried on the other replica within the deadline: no verification fails", async () => {
    const { token } = await a.createKey({ name: "Shared" });
    // A deadline roomy enough for a loaded two-core machine; what is tested is that the retry happens.
    const verifier = createVerifier({
      target: `ipv4:127.0.0.1:${a.child.grpcPort},127.0.0.1:${b.child.grpcPort}`,
      onUnavailable: "deny",
      deadlineMs: 3_000,
    });
    try {
      // Round-robin: both replicas serve, once the channel has connected to both (on a loaded
      // machine the second connection can come up after the first calls went to the first).
      let both = false;
      for (let round = 0; round < 100 && !both; round++) {
        for (let i = 0; i < 20; i++) expect((await verifier.verify(token)).code).toBe("VALID");
        both = (await verificationsServed(a)) > 0 && (await verificationsServed(b)) > 0;
      }
      expect(both).toBe(true);

      const results: VerifyResult[] = [];
      let killed = false;
      let afterKill = 0;
      const total = 1_200;
      let next = 0;
      const worker = async () => {
        while (next < total) {
          next++;
          const result = await verifier.verify(token);
          results.push(result);
          if (killed) afterKill++;
          if (!killed && results.length === 300) {
            killed = true;
            b.child.child.kill("SIGKILL");
          }
        }
      };
      // Sixteen requests in flight: some are on the killed replica when it dies.
      await Promise.all(Array.from({ length: 16 }, worker));
      await b.child.exited;
      expect(killed).toBe(true);
      expect(afterKill).toBeGreaterThan(500);
      const codes: Record<string, number> = {};
      for (const r of results) codes[r.code] = (codes[r.code] ?? 0) + 1;
      expect(codes).toEqual({ VALID: total });
    } finally {
      verifier.close();
    }
  });
});

describe("nothing answers", () => {
  let blackHole: Server;
  const sockets = new Set<Socket>();
  let holePort: number;
  beforeAll(async () => {
    // Accepts TCP connections and never says a word: only the deadline ends a call.
    blackHole = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
    holePort = (blackHole.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => blackHole.close(() => resolve()));
  });

  it.each([
    ["deny", false],
    ["allow", true],
  ] as const)("a closed port: onUnavailable %s answers UNAVAILABLE with valid %s, unchecked", async (policy, valid) => {
    const verifier = createVerifier({ target: `127.0.0.1:${await freePort()}`, onUnavailable: policy });
    try {
      const result = await verifier.verify("kw_anything");
      expect(result).toMatchObject({ valid, code: "UNAVAILABLE", checked: false });
    } finally {
      verifier.close();
    }
  });

  it.each([
    ["deny", false],
    ["allow", true],
  ] as const)("a peer that never answers: onUnavailable %s answers UNAVAILABLE with valid %s once the deadline passes", async (policy, valid) => {
    const verifier = createVerifier({ target: `127.0.0.1:${holePort}`, onUnavailable: policy, deadlineMs: 300 });
    try {
      const result = await verifier.verify("kw_anything");
      expect(result).toMatchObject({ valid, code: "UNAVAILABLE", checked: false });
      if (result.code === "UNAVAILABLE") expect(result.reason).toMatch(/deadline/);
    } finally {
      verifier.close();
    }
  });

  it("both replicas of a two-address target down: UNAVAILABLE, not an exception", async () => {
    const verifier = createVerifier({
      target: `ipv4:127.0.0.1:${await freePort()},127.0.0.1:${await freePort()}`,
      onUnavailable: "deny",
    });
    try {
      expect(await verifier.verify("kw_anything")).toMatchObject({ valid: false, code: "UNAVAILABLE" });
    } finally {
      verifier.close();
    }
  });
});

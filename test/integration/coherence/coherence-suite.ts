import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission } from "../../../src/gen/keyward/v1/key_pb.js";
import { VerifyCode } from "../../../src/gen/keyward/v1/verify_pb.js";
import type { KeyServiceGrpcClient } from "../../support/grpc-client.js";

/** One way in to a running Keyward process: an admin client and a plain caller. */
export interface Entrance {
  admin: KeyServiceGrpcClient;
  caller: KeyServiceGrpcClient;
}

export interface Deployment {
  /** At least two; a change made through one must reach every other. */
  entrances: Entrance[];
  /**
   * kill -9 of one process while the test drives load. Resolves with the
   * entrances that stay up, or all of them when the process is replaced
   * behind the same ports.
   */
  killOne(): Promise<Entrance[]>;
  stop(): Promise<void>;
}

/** The promise Keyward makes: a change made through any process is seen by every process within this. */
export const PROPAGATION_MS = 100;
const TRIALS = 25;

async function code(entrance: Entrance, token: string, request: Record<string, unknown> = {}) {
  return (await entrance.caller.unary("verifyKey", { token, ...request })).code;
}

/** Milliseconds from now until `check` holds (polled as fast as answers come), for the log. */
async function timeUntil(check: () => Promise<boolean>, limitMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > limitMs) return Number.POSITIVE_INFINITY;
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

/**
 * The coherence tests every multi-process deployment must pass, whatever
 * shares the database: processes of one machine on SQLite, or replicas on
 * PostgreSQL.
 */
export function describeCoherence(name: string, deploy: () => Promise<Deployment>): void {
  describe(name, () => {
    let d: Deployment;
    beforeAll(async () => {
      d = await deploy();
    }, 120_000);
    afterAll(async () => {
      await d?.stop();
    }, 60_000);

    const others = (from: number) => d.entrances.filter((_, i) => i !== from);

    it("a key created through one verifies on every other at once", async () => {
      for (let i = 0; i < d.entrances.length; i++) {
        const { token } = await (d.entrances[i] as Entrance).admin.unary("createKey", { name: `created ${i}` });
        for (const other of others(i)) expect(await code(other, token)).toBe(VerifyCode.VALID);
      }
    });

    it(`a delete through one is REVOKED on every other within ${PROPAGATION_MS} ms, trial after trial`, async () => {
      const times: number[] = [];
      for (let trial = 0; trial < TRIALS; trial++) {
        const from = trial % d.entrances.length;
        const origin = d.entrances[from] as Entrance;
        const { key, token } = await origin.admin.unary("createKey", { name: `trial ${trial}` });
        // Every other process holds the key in its cache.
        for (const other of others(from)) expect(await code(other, token)).toBe(VerifyCode.VALID);
        await origin.admin.unary("deleteKey", { id: key?.id as string, reason: "coherence trial" });
        const acknowledged = performance.now();
        const seen = await Promise.all(
          others(from).map((other) =>
            timeUntil(async () => (await code(other, token)) === VerifyCode.REVOKED, PROPAGATION_MS * 20),
          ),
        );
        times.push(...seen);
        // The promise itself: once the bound has passed, nobody answers VALID.
        const wait = PROPAGATION_MS - (performance.now() - acknowledged);
        if (wait > 0) await sleep(wait);
        for (const other of others(from)) expect(await code(other, token)).toBe(VerifyCode.REVOKED);
      }
      const sorted = times.sort((a, b) => a - b);
      console.info(
        `${name}: delete → REVOKED elsewhere over ${sorted.length} observations: ` +
          `p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms, max ${sorted.at(-1)?.toFixed(1)} ms`,
      );
      expect(sorted.every(Number.isFinite)).toBe(true);
    });

    it("an update of scopes or permission reaches every other", async () => {
      const origin = d.entrances[0] as Entrance;
      const { key, token } = await origin.admin.unary("createKey", {
        name: "narrowed",
        permission: Permission.FULL_ACCESS,
        scopes: ["emails:send", "domains:read"],
      });
      const id = key?.id as string;
      const needs = { requiredPermission: Permission.FULL_ACCESS, requiredScopes: ["domains:read"] };
      for (const other of others(0)) expect(await code(other, token, needs)).toBe(VerifyCode.VALID);

      await origin.admin.unary("updateKey", { id, scopes: ["emails:send"], updateMask: { paths: ["scopes"] } });
      await sleep(PROPAGATION_MS);
      for (const other of others(0)) expect(await code(other, token, needs)).toBe(VerifyCode.MISSING_SCOPES);

      await origin.admin.unary("updateKey", {
        id,
        permission: Permission.SENDING_ACCESS,
        scopes: ["domains:read"],
        updateMask: { paths: ["permission", "scopes"] },
      });
      await sleep(PROPAGATION_MS);
      for (const other of others(0)) {
        expect(await code(other, token, needs)).toBe(VerifyCode.INSUFFICIENT_PERMISSION);
        expect(await code(other, token, { requiredScopes: ["domains:read"] })).toBe(VerifyCode.VALID);
      }
    });

    it("200 verifications spread over every process against 50 credits give exactly 50 VALID", async () => {
      const { token } = await (d.entrances[0] as Entrance).admin.unary("createKey", {
        name: "credits",
        remaining: 50n,
      });
      const codes = await Promise.all(
        Array.from({ length: 200 }, (_, i) => code(d.entrances[i % d.entrances.length] as Entrance, token)),
      );
      expect(codes.filter((c) => c === VerifyCode.VALID)).toHaveLength(50);
      expect(codes.filter((c) => c === VerifyCode.USAGE_EXCEEDED)).toHaveLength(150);
    });

    it("kill -9 of one process under load loses no acknowledged write and the rest keep answering", async () => {
      const { token: busy } = await (d.entrances[0] as Entrance).admin.unary("createKey", { name: "busy" });
      const created: string[] = [];
      const answeredAfterKill: number[] = d.entrances.map(() => 0);
      let killedAt = Number.POSITIVE_INFINITY;
      let running = true;
      const load = d.entrances.map(async (entrance, i) => {
        while (running) {
          try {
            const { token } = await entrance.admin.unary("createKey", { name: `load ${i}` }, undefined, {
              deadline: Date.now() + 2000,
            });
            created.push(token);
            if ((await code(entrance, busy)) === VerifyCode.VALID && performance.now() > killedAt) {
              answeredAfterKill[i] = (answeredAfterKill[i] ?? 0) + 1;
            }
          } catch {
            // The killed process's calls fail; what it never acknowledged need not exist.
            await sleep(10);
          }
        }
      });
      await sleep(500);
      const survivors = await d.killOne();
      killedAt = performance.now();
      await sleep(1500);
      running = false;
      await Promise.all(load);

      // The processes left standing went on answering through the kill.
      expect(answeredAfterKill.filter((n) => n > 0).length).toBeGreaterThanOrEqual(Math.min(survivors.length, 1));
      expect(created.length).toBeGreaterThan(0);
      const checker = survivors[0] as Entrance;
      for (const token of created) expect(await code(checker, token)).toBe(VerifyCode.VALID);
    });
  });
}

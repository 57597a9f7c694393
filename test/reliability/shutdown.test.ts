/**
 * Graceful shutdown under load: `keyward service` (the real command, with its
 * signal handling) gets SIGTERM while verifications and creates are running.
 * In-flight calls finish, new ones are refused, usage is flushed, the
 * database is closed, the exit code is 0, and every acknowledged verification
 * and create is in the database: nothing acknowledged is lost.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { resolveServiceToken } from "../../src/shared/service-token.js";
import { freePort } from "../integration/workers/harness.js";
import { createKeyServiceGrpcClient } from "../support/grpc-client.js";

const bin = fileURLToPath(new URL("../../bin/keyward.js", import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), "keyward-shutdown-"));
let child: ChildProcess | undefined;

afterAll(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts `keyward service` and resolves once it logs that it listens; `log()` is all it wrote. */
async function startService(grpcPort: number, connectPort: number) {
  const started = spawn(process.execPath, [bin, "service"], {
    env: {
      ...process.env,
      KEYWARD_DATA_DIR: dataDir,
      KEYWARD_SERVICE_PORT: String(grpcPort),
      KEYWARD_CONNECT_PORT: String(connectPort),
      KEYWARD_USAGE_FLUSH_MS: "1000",
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = started;
  const lines: string[] = [];
  const exited = once(started, "exit").then(([code]) => code as number | null);
  started.stderr?.on("data", (chunk: Buffer) => lines.push(chunk.toString()));
  const stdout = createInterface({ input: started.stdout as NodeJS.ReadableStream });
  const listening = new Promise<void>((resolve) => {
    stdout.on("line", (line) => {
      lines.push(line);
      if (line.includes("key service listening")) resolve();
    });
  });
  await Promise.race([
    listening,
    exited.then((code) => {
      throw new Error(`keyward service exited with ${code} before listening:\n${lines.join("\n")}`);
    }),
  ]);
  return { exited, log: () => lines.join("\n") };
}

describe("graceful shutdown", () => {
  it("loses no acknowledged verification or write when SIGTERM arrives under load", async () => {
    const grpcPort = await freePort();
    const connectPort = await freePort();
    const service = await startService(grpcPort, connectPort);
    const client = createKeyServiceGrpcClient(`127.0.0.1:${grpcPort}`, {
      token: resolveServiceToken({ dataDir }),
      actor: "shutdown@example.com",
    });
    try {
      const keys: { id: string; token: string }[] = [];
      for (let i = 0; i < 4; i++) {
        const { key, token } = await client.unary("createKey", { name: `load ${i}` });
        keys.push({ id: key?.id ?? "", token });
      }
      const acked = new Map(keys.map((k) => [k.id, 0]));
      const sent = new Map(keys.map((k) => [k.id, 0]));
      const created: string[] = [];
      const refusals: number[] = [];
      let running = true;
      const verifier = async (lane: number) => {
        for (let i = 0; running; i++) {
          const key = keys[(lane + i) % keys.length] as { id: string; token: string };
          sent.set(key.id, (sent.get(key.id) ?? 0) + 1);
          try {
            await client.unary("verifyKey", { token: key.token, context: { path: "/load" } });
            acked.set(key.id, (acked.get(key.id) ?? 0) + 1);
          } catch (error) {
            refusals.push((error as { code: number }).code);
            return;
          }
        }
      };
      const creator = async () => {
        for (let i = 0; running; i++) {
          try {
            const { key } = await client.unary("createKey", { name: `during shutdown ${i}` });
            created.push(key?.id ?? "");
          } catch {
            return;
          }
        }
      };
      const load = [...Array.from({ length: 8 }, (_, lane) => verifier(lane)), creator()];
      // Mid-load, and not on a flush boundary (flushes are every second).
      await new Promise((resolve) => setTimeout(resolve, 1300));
      child?.kill("SIGTERM");
      // Keep calling until the service refuses: calls racing the signal are part of the test.
      const stopAfter = setTimeout(() => {
        running = false;
      }, 5000);
      await Promise.all(load);
      clearTimeout(stopAfter);
      running = false;
      expect(await service.exited).toBe(0);
      // Refused, not failed: UNAVAILABLE once the server stops accepting.
      for (const code of refusals) expect([grpc.status.UNAVAILABLE, grpc.status.CANCELLED]).toContain(code);
      expect(service.log()).toContain("key service stopped");

      const db = new Database(join(dataDir, "keyward.db"), { readonly: true });
      try {
        expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
        const count = db.prepare<[string], { request_count: number }>("SELECT request_count FROM keys WHERE id = ?");
        let total = 0;
        let persistedTotal = 0;
        for (const { id } of keys) {
          const persisted = count.get(id)?.request_count ?? -1;
          total += acked.get(id) ?? 0;
          persistedTotal += persisted;
          // Every acknowledged verification is counted; nothing is counted that was not sent.
          expect(persisted).toBeGreaterThanOrEqual(acked.get(id) ?? 0);
          expect(persisted).toBeLessThanOrEqual(sent.get(id) ?? 0);
        }
        expect(total).toBeGreaterThan(50);
        const sentTotal = [...sent.values()].reduce((a, b) => a + b, 0);
        console.log(
          `shutdown under load: ${total} verifications acknowledged, ${persistedTotal} counted, ${sentTotal} sent; ` +
            `${created.length} creates acknowledged; refusals after SIGTERM: ${[...new Set(refusals)].join(", ")}`,
        );
        const exists = db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM keys WHERE id = ?");
        for (const id of created) expect(exists.get(id)?.n, `acknowledged create ${id}`).toBe(1);
      } finally {
        db.close();
      }
    } finally {
      client.close();
    }
  }, 60_000);
});

/**
 * Crash trials, shared by test/reliability/crash.test.ts (3 trials) and
 * scripts/crash-test.ts (`npm run crash-test -- 20`).
 *
 * A trial runs admin writes (create, update, delete, rotate) and
 * verifications concurrently against the service in its own process,
 * SIGKILLs it at a random moment, restarts it over the same data dir, then
 * checks: every acknowledged write is there; every write in flight at the
 * kill is all there or not at all (a create with its audit event, a rotation
 * with both links); the usage lost is at most what was acknowledged in the
 * last flush interval, and never more than was sent; counters and hourly
 * buckets agree (and the request log has no more rows than the counter);
 * and PRAGMA integrity_check is ok.
 * Consecutive trials share the data dir: each trial's restarted service is
 * the next trial's victim, so the state grows as it would in production.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { KeyStatus } from "../../src/gen/keyward/v1/key_pb.js";
import { VerifyCode } from "../../src/gen/keyward/v1/verify_pb.js";
import { resolveServiceToken } from "../../src/shared/service-token.js";
import { type ChildService, startChildService, stopChildService } from "../support/child-service.js";
import { createKeyServiceGrpcClient, type KeyServiceGrpcClient } from "../support/grpc-client.js";
import type { Random } from "./fuzz/generators.js";

/** Usage is flushed this often in the trials; the loss allowed is one interval (plus scheduling slack). */
export const FLUSH_MS = 250;
/** A flush runs on the event loop: under load it may start this much late. Reported, not hidden. */
const FLUSH_SLACK_MS = 750;
const USAGE_KEYS = 4;
const WRITERS = 3;
const VERIFIERS = 4;

/** A key this harness created and knows everything acknowledged about. */
interface KnownKey {
  id: string;
  token: string;
  /** Names the key may have: the last acknowledged one, then any sent after it (in flight at the kill). */
  names: string[];
  deleted: "no" | "acked" | "in flight";
  rotatedTo?: string;
}

interface InFlightCreate {
  name: string;
}

interface InFlightRotate {
  fromId: string;
}

export interface TrialReport {
  trial: number;
  killAfterMs: number;
  acknowledged: { creates: number; updates: number; deletes: number; rotates: number; verifications: number };
  inFlight: { creates: number; rotates: number; createsPresent: number; rotatesPresent: number };
  /** Acknowledged verifications missing after the restart, and how long before the kill the oldest was answered. */
  usageLost: { verifications: number; maxAgeMs: number };
  integrity: string;
  restartMs: number;
}

export interface CrashHarness {
  /** Runs one trial: load, SIGKILL, restart, checks. Throws an Error naming what broke. */
  trial(n: number, random: Random): Promise<TrialReport>;
  close(): Promise<void>;
}

function clientFor(child: ChildService, dataDir: string): KeyServiceGrpcClient {
  return createKeyServiceGrpcClient(`127.0.0.1:${child.grpcPort}`, {
    token: resolveServiceToken({ dataDir }),
    actor: "crash-test@example.com",
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function fail(trial: number, message: string): never {
  throw new Error(`crash trial ${trial}: ${message}`);
}

/** Starts the service over a fresh data dir (on disk: durability is what is tested) with a few keys to verify. */
export async function startCrashHarness(): Promise<CrashHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), "keyward-crash-"));
  const env = { KEYWARD_USAGE_FLUSH_MS: String(FLUSH_MS), LOG_LEVEL: "warn" };
  let child = await startChildService(dataDir, env);
  let client = clientFor(child, dataDir);
  const known = new Map<string, KnownKey>();
  const usageKeys: { id: string; token: string }[] = [];
  let seq = 0;
  for (let i = 0; i < USAGE_KEYS; i++) {
    const { key, token } = await client.unary("createKey", { name: `usage ${i}` });
    usageKeys.push({ id: key?.id ?? "", token });
  }

  async function requestCounts(): Promise<Map<string, bigint>> {
    const counts = new Map<string, bigint>();
    for (const { id } of usageKeys) counts.set(id, (await client.unary("getKey", { id })).key?.requestCount ?? 0n);
    return counts;
  }

  async function trial(n: number, random: Random): Promise<TrialReport> {
    const before = await requestCounts();
    const inFlightCreates = new Set<InFlightCreate>();
    const inFlightRotates = new Set<InFlightRotate>();
    const acked = { creates: 0, updates: 0, deletes: 0, rotates: 0, verifications: 0 };
    /** Per usage key: when each acknowledged verification was answered, and how many were sent. */
    const answeredAt = new Map<string, number[]>(usageKeys.map((k) => [k.id, []]));
    const sent = new Map<string, number>(usageKeys.map((k) => [k.id, 0]));
    let stopped = false;
    const unexpected: string[] = [];
    /** Keys a writer is acting on: one write per key at a time, so that every outcome is known. */
    const busy = new Set<string>();
    const liveKeys = () =>
      [...known.values()].filter((k) => k.deleted === "no" && k.rotatedTo === undefined && !busy.has(k.id));

    const writer = async () => {
      while (!stopped) {
        const live = liveKeys();
        const roll = random.next();
        const target = live.length > 0 ? random.pick(live) : undefined;
        if (target !== undefined) busy.add(target.id);
        try {
          if (roll < 0.4 || target === undefined) {
            const name = `crash ${n}.${seq++}`;
            const attempt = { name };
            inFlightCreates.add(attempt);
            const { key, token } = await client.unary("createKey", {
              name,
              scopes: ["read:crash"],
              claims: { trial: n, name },
            });
            inFlightCreates.delete(attempt);
            known.set(key?.id ?? "", { id: key?.id ?? "", token, names: [name], deleted: "no" });
            acked.creates++;
          } else if (roll < 0.7) {
            const name = `renamed ${n}.${seq++}`;
            target.names.push(name);
            await client.unary("updateKey", { id: target.id, updateMask: { paths: ["name"] }, name });
            // Acknowledged: this is the name now (later in-flight ones may follow).
            target.names = target.names.slice(target.names.indexOf(name));
            acked.updates++;
          } else if (roll < 0.85) {
            target.deleted = "in flight";
            await client.unary("deleteKey", { id: target.id, reason: "crash test" });
            target.deleted = "acked";
            acked.deletes++;
          } else {
            const attempt = { fromId: target.id };
            inFlightRotates.add(attempt);
            target.rotatedTo = "in flight";
            const { key, token } = await client.unary("rotateKey", { id: target.id, gracePeriodSeconds: 0 });
            inFlightRotates.delete(attempt);
            target.rotatedTo = key?.id ?? "";
            known.set(target.rotatedTo, { id: target.rotatedTo, token, names: [...target.names], deleted: "no" });
            acked.rotates++;
          }
        } catch (error) {
          // The kill: whatever was in flight stays marked so. Before it, any error is a bug.
          if (!stopped) unexpected.push(String((error as { details?: string }).details ?? error));
          return;
        } finally {
          if (target !== undefined) busy.delete(target.id);
        }
      }
    };

    const verifier = async () => {
      while (!stopped) {
        const key = random.pick(usageKeys);
        sent.set(key.id, (sent.get(key.id) ?? 0) + 1);
        try {
          await client.unary("verifyKey", { token: key.token, context: { ip: "10.0.0.1", path: "/crash" } });
          answeredAt.get(key.id)?.push(performance.now());
          acked.verifications++;
        } catch (error) {
          if (!stopped) unexpected.push(String((error as { details?: string }).details ?? error));
          return;
        }
      }
    };

    const load = [...Array.from({ length: WRITERS }, writer), ...Array.from({ length: VERIFIERS }, verifier)];
    const killAfterMs = random.range(300, 1500);
    await sleep(killAfterMs);
    // No new call from here; the ones in flight meet the kill.
    stopped = true;
    child.child.kill("SIGKILL");
    const killedAt = performance.now();
    await child.exited;
    await Promise.all(load);
    client.close();
    if (unexpected.length > 0) fail(n, `calls failed before the kill: ${unexpected.slice(0, 3).join("; ")}`);

    const restartStarted = performance.now();
    child = await startChildService(dataDir, env);
    client = clientFor(child, dataDir);
    const restartMs = performance.now() - restartStarted;

    // Acknowledged writes, and the in-flight ones all or nothing.
    for (const key of known.values()) {
      const stored = (await client.unary("getKey", { id: key.id }).catch(() => undefined))?.key;
      if (stored === undefined) fail(n, `acknowledged key ${key.id} is missing`);
      if (!key.names.includes(stored.name)) {
        fail(n, `key ${key.id} is named ${JSON.stringify(stored.name)}, expected one of ${JSON.stringify(key.names)}`);
      }
      key.names = [stored.name];
      const revoked = stored.status === KeyStatus.REVOKED;
      const verified = await client.unary("verifyKey", { token: key.token });
      if (verified.code !== (revoked ? VerifyCode.REVOKED : VerifyCode.VALID)) {
        fail(n, `key ${key.id} (${revoked ? "revoked" : "live"}) verifies as ${VerifyCode[verified.code]}`);
      }
      if (key.deleted === "acked" && !revoked) fail(n, `acknowledged delete of ${key.id} is lost`);
      if (key.deleted === "in flight") key.deleted = revoked ? "acked" : "no";
      if (key.rotatedTo !== undefined && key.rotatedTo !== "in flight" && stored.rotatedToId !== key.rotatedTo) {
        fail(n, `acknowledged rotation of ${key.id} lost its link to ${key.rotatedTo}`);
      }
    }
    const db = new Database(join(dataDir, "keyward.db"), { readonly: true });
    let integrity: string;
    let createsPresent = 0;
    let rotatesPresent = 0;
    try {
      const successorsOf = db.prepare<[string], { id: string }>("SELECT id FROM keys WHERE rotated_from_id = ?");
      for (const { fromId } of inFlightRotates) {
        const old = known.get(fromId) as KnownKey;
        const stored = (await client.unary("getKey", { id: fromId })).key;
        const successors = successorsOf.all(fromId);
        if (stored?.rotatedToId) {
          rotatesPresent++;
          if (successors.length !== 1 || successors[0]?.id !== stored.rotatedToId) {
            fail(
              n,
              `rotation of ${fromId} in flight is half there: it links to ${stored.rotatedToId}, no key links back`,
            );
          }
          if (stored.status !== KeyStatus.REVOKED) fail(n, `rotation of ${fromId} (no grace) left the old key live`);
          // Its token was never acknowledged, so nobody holds it: the key is known by id only.
          old.rotatedTo = stored.rotatedToId;
        } else {
          if (successors.length > 0)
            fail(n, `rotation of ${fromId} in flight is half there: a new key links back to it`);
          old.rotatedTo = undefined;
        }
      }
      integrity = String(db.pragma("integrity_check", { simple: true }));
      if (integrity !== "ok") fail(n, `integrity_check: ${integrity}`);
      for (const { name } of inFlightCreates) {
        const rows = db.prepare("SELECT id, scopes, claims FROM keys WHERE name = ?").all(name) as {
          id: string;
          scopes: string;
          claims: string;
        }[];
        if (rows.length > 1) fail(n, `in-flight create ${name} is there ${rows.length} times`);
        const row = rows[0];
        if (row === undefined) continue;
        createsPresent++;
        const audit = db
          .prepare("SELECT count(*) AS n FROM audit_events WHERE key_id = ? AND action = 'key.create'")
          .get(row.id) as {
          n: number;
        };
        if (audit.n !== 1 || row.scopes !== '["read:crash"]' || JSON.parse(row.claims).name !== name) {
          fail(n, `in-flight create ${name} is half there (audit events: ${audit.n}, scopes ${row.scopes})`);
        }
      }
      // Whatever was in flight or not: every key has its one creation event, every link its way back.
      const orphans = db
        .prepare(
          `SELECT count(*) AS n FROM keys k WHERE NOT EXISTS (
             SELECT 1 FROM audit_events a WHERE a.key_id = k.id AND a.action IN ('key.create', 'key.bootstrap')
           ) AND (k.rotated_from_id IS NULL OR NOT EXISTS (
             SELECT 1 FROM audit_events a WHERE a.key_id = k.rotated_from_id AND a.action = 'key.rotate'
           ))`,
        )
        .get() as { n: number };
      if (orphans.n > 0) fail(n, `${orphans.n} keys have no audit event of their creation`);
      const brokenLinks = db
        .prepare(
          `SELECT count(*) AS n FROM keys a LEFT JOIN keys b ON b.id = a.rotated_to_id
            WHERE a.rotated_to_id IS NOT NULL AND (b.id IS NULL OR b.rotated_from_id IS NOT a.id)`,
        )
        .get() as { n: number };
      if (brokenLinks.n > 0) fail(n, `${brokenLinks.n} rotations link one way only`);
      // Counters, buckets and logs are written in one transaction per flush: counters and
      // buckets agree exactly; the log keeps at most KEYWARD_LOG_LIMIT_PER_KEY rows a flush, never more.
      const disagreeing = db
        .prepare(
          `SELECT k.id, k.request_count AS requests,
                  (SELECT coalesce(sum(count), 0) FROM usage_hourly u WHERE u.key_id = k.id) AS buckets,
                  (SELECT count(*) FROM key_logs l WHERE l.key_id = k.id) AS logs
             FROM keys k
            WHERE k.request_count != buckets OR logs > k.request_count`,
        )
        .all();
      if (disagreeing.length > 0) fail(n, `usage counters, buckets and logs disagree: ${JSON.stringify(disagreeing)}`);
    } finally {
      db.close();
    }

    // Usage: lost at most the last flush interval's worth, never more than was sent.
    const after = await requestCounts();
    let lost = 0;
    let maxAgeMs = 0;
    for (const { id } of usageKeys) {
      const persisted = Number((after.get(id) ?? 0n) - (before.get(id) ?? 0n));
      const times = (answeredAt.get(id) ?? []).sort((a, b) => a - b);
      if (persisted > (sent.get(id) ?? 0))
        fail(n, `key ${id} counts ${persisted} verifications, only ${sent.get(id)} were sent`);
      if (persisted < times.length) {
        lost += times.length - persisted;
        // The oldest acknowledged verification that may be among the lost ones.
        const age = killedAt - (times[persisted] as number);
        maxAgeMs = Math.max(maxAgeMs, age);
      }
    }
    if (maxAgeMs > FLUSH_MS + FLUSH_SLACK_MS) {
      fail(n, `usage answered ${Math.round(maxAgeMs)} ms before the kill was lost (flush interval ${FLUSH_MS} ms)`);
    }
    return {
      trial: n,
      killAfterMs,
      acknowledged: acked,
      inFlight: {
        creates: inFlightCreates.size,
        rotates: inFlightRotates.size,
        createsPresent,
        rotatesPresent,
      },
      usageLost: { verifications: lost, maxAgeMs: Math.round(maxAgeMs) },
      integrity,
      restartMs: Math.round(restartMs),
    };
  }

  return {
    trial,
    async close() {
      client.close();
      await stopChildService(child);
      const db = new Database(join(dataDir, "keyward.db"), { readonly: true });
      try {
        const integrity = String(db.pragma("integrity_check", { simple: true }));
        if (integrity !== "ok") throw new Error(`integrity_check after the last trial: ${integrity}`);
      } finally {
        db.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** One line per trial, for the test output and the script. */
export function formatTrial(r: TrialReport): string {
  const a = r.acknowledged;
  return (
    `trial ${r.trial}: killed after ${r.killAfterMs} ms; acknowledged ${a.creates} creates, ${a.updates} updates, ` +
    `${a.deletes} deletes, ${a.rotates} rotates, ${a.verifications} verifications; in flight ${r.inFlight.creates} creates ` +
    `(${r.inFlight.createsPresent} there), ${r.inFlight.rotates} rotates (${r.inFlight.rotatesPresent} there); usage lost ` +
    `${r.usageLost.verifications} (oldest ${r.usageLost.maxAgeMs} ms before the kill); integrity ${r.integrity}; restart ${r.restartMs} ms`
  );
}

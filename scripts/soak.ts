/**
 * Soak test: `npm run soak -- --minutes 10 [--rate N] [--admin-share 0.01]`.
 *
 * Starts the key service as a child process over a fresh data dir, measures
 * the maximum verification throughput this machine reaches (closed loop, a
 * few seconds) unless `--rate` is given, then drives half of it open-loop for
 * the given minutes with a mix of verifications and admin calls (get, list,
 * create, update, rotate, delete) over grpc-js. Each minute it prints the
 * service's RSS and the p50/p99 latency of that minute's calls. It fails
 * (exit 1) when RSS or p99 grows by more than 20% from minute 2 to the last
 * minute, or when any call fails with an unexpected code.
 */
import { readFileSync, rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { resolveServiceToken } from "../src/shared/service-token.js";
import { startChildService } from "../test/support/child-service.js";
import { createKeyServiceGrpcClient, type KeyServiceGrpcClient } from "../test/support/grpc-client.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    rate: { type: "string" },
    "admin-share": { type: "string", default: "0.01" },
    keys: { type: "string", default: "1000" },
    "minute-ms": { type: "string", default: "60000" },
  },
});
const minutes = Number(values.minutes);
const adminShare = Number(values["admin-share"]);
const keyCount = Number(values.keys);
// A shorter "minute" lets the script itself be tried quickly; reports still say "minute".
const minuteMs = Number(values["minute-ms"]);
if (!(minutes >= 3)) throw new Error("--minutes must be at least 3 (minute 2 is the baseline)");

/** A stall of several seconds at the soak rate still fits: the stall shows in p99, not as dropped calls. */
const MAX_IN_FLIGHT = 10_000;
const GROWTH_LIMIT = 0.2;

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

/**
 * The service's longest event-loop stall since the last reading, in ms, from
 * its /metrics (prom-client's event-loop-delay histogram restarts at every
 * scrape): tells a stall of the service from one of the machine.
 */
async function loopLagMaxMs(connectPort: number): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${connectPort}/metrics`)).text();
    const match = /^(?:\w+_)?nodejs_eventloop_lag_max_seconds\s+(\S+)/m.exec(text);
    return match ? Number(match[1]) * 1000 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

/** Latencies of one window, growable without per-sample allocation. */
class Samples {
  private data = new Float64Array(1 << 16);
  length = 0;
  add(ms: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = ms;
  }
  sorted(): Float64Array {
    return this.data.slice(0, this.length).sort();
  }
}

const dataDir = await mkdtemp(join(tmpdir(), "keyward-soak-"));
const service = await startChildService(dataDir, { LOG_LEVEL: "warn" });
const pid = service.child.pid as number;
const token = resolveServiceToken({ dataDir });
const admin = createKeyServiceGrpcClient(`127.0.0.1:${service.grpcPort}`, { token, actor: "soak@example.com" });
const caller = createKeyServiceGrpcClient(`127.0.0.1:${service.grpcPort}`);
let failed = false;

try {
  // Keys to verify; admin calls act on keys of their own so verifications stay VALID.
  const tokens: string[] = [];
  for (let i = 0; i < keyCount; i++) {
    const { token: t } = await admin.unary("createKey", {
      name: `soak ${i}`,
      scopes: ["read:things"],
      subject: `team-${i % 20}`,
    });
    tokens.push(t);
  }
  const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)] as T;
  const verify = () =>
    caller.unary("verifyKey", {
      token: pick(tokens),
      requiredScopes: ["read:things"],
      context: { ip: "10.1.2.3", method: "GET", path: "/v1/things" },
    });

  const adminIds: string[] = [];
  let adminSeq = 0;
  const adminCall = async (client: KeyServiceGrpcClient): Promise<unknown> => {
    const n = adminSeq++;
    const kind = n % 10;
    if (kind === 0 || adminIds.length < 5) {
      const { key } = await client.unary("createKey", { name: `admin-made ${n}`, subject: "soak-admin" });
      adminIds.push(key?.id ?? "");
      return;
    }
    if (kind === 1) {
      // Rotate then revoke the old one: one key in, one out, so the pool stays small.
      const id = adminIds.shift() as string;
      const rotated = await client.unary("rotateKey", { id, gracePeriodSeconds: 60 });
      adminIds.push(rotated.key?.id ?? "");
      return;
    }
    if (kind === 2 && adminIds.length > 20) {
      return client.unary("deleteKey", { id: adminIds.shift() as string, reason: "soak" });
    }
    if (kind <= 4)
      return client.unary("updateKey", { id: pick(adminIds), updateMask: { paths: ["name"] }, name: `renamed ${n}` });
    if (kind <= 6) return client.unary("listKeys", { pageSize: 20, subject: pick(["soak-admin", "team-3"]) });
    return client.unary("getKey", { id: pick(adminIds) });
  };

  // Warm-up, then the closed-loop maximum (verifications only: the hot path).
  let rate: number;
  if (values.rate !== undefined) {
    rate = Number(values.rate);
  } else {
    const measure = async (ms: number, concurrency: number): Promise<number> => {
      let done = 0;
      const until = Date.now() + ms;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (Date.now() < until) {
            await verify();
            done++;
          }
        }),
      );
      return done / (ms / 1000);
    };
    await measure(2000, 64);
    const max = await measure(5000, 128);
    rate = Math.round(max / 2);
    console.log(`measured maximum: ${Math.round(max)} verifications/s; soaking at half: ${rate}/s`);
  }
  console.log(
    `soak: ${minutes} min at ${rate} calls/s, ${(adminShare * 100).toFixed(1)}% admin calls, service pid ${pid}`,
  );

  // Open loop: each tick issues what the schedule says is due, capped by MAX_IN_FLIGHT.
  let inFlight = 0;
  let issued = 0;
  let dropped = 0;
  let errors = 0;
  // An admin call on a key that a concurrent rotate or delete just took out of the pool.
  let raced = 0;
  const errorCodes = new Map<string, number>();
  let window = new Samples();
  let windowAdmin = new Samples();
  const rows: {
    minute: number;
    rssMiB: number;
    p50: number;
    p99: number;
    adminP99: number;
    calls: number;
    loopLagMaxMs: number;
    load1: number;
  }[] = [];
  await loopLagMaxMs(service.connectPort);
  const started = performance.now();
  const fire = () => {
    const isAdmin = Math.random() < adminShare;
    const t0 = performance.now();
    inFlight++;
    const call = isAdmin ? adminCall(admin) : verify();
    call.then(
      () => {
        inFlight--;
        (isAdmin ? windowAdmin : window).add(performance.now() - t0);
      },
      (error: { code?: number; details?: string }) => {
        inFlight--;
        if (isAdmin && error.code === 9) {
          raced++;
          return;
        }
        errors++;
        const key = `${error.code}: ${error.details ?? String(error)}`.slice(0, 160);
        errorCodes.set(key, (errorCodes.get(key) ?? 0) + 1);
      },
    );
  };
  let minute = 0;
  let reading = false;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - started;
      const due = Math.floor((elapsed / 1000) * rate);
      while (issued < due) {
        issued++;
        if (inFlight >= MAX_IN_FLIGHT) dropped++;
        else fire();
      }
      if (elapsed >= (minute + 1) * minuteMs && !reading) {
        reading = true;
        minute++;
        const sorted = window.sorted();
        const adminSorted = windowAdmin.sorted();
        window = new Samples();
        windowAdmin = new Samples();
        const done = minute;
        void loopLagMaxMs(service.connectPort).then((lag) => {
          const row = {
            minute: done,
            rssMiB: rssMiB(pid),
            p50: percentile(sorted, 0.5),
            p99: percentile(sorted, 0.99),
            adminP99: percentile(adminSorted, 0.99),
            calls: sorted.length + adminSorted.length,
            loopLagMaxMs: lag,
            load1: loadavg()[0] ?? Number.NaN,
          };
          rows.push(row);
          console.log(
            `minute ${String(done).padStart(2)}: rss ${row.rssMiB.toFixed(1)} MiB, verify p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, admin p99 ${row.adminP99.toFixed(2)} ms, ${row.calls} calls, ${errors} errors, ${dropped} dropped; service event-loop stall max ${row.loopLagMaxMs.toFixed(0)} ms, machine load ${row.load1.toFixed(2)}`,
          );
          reading = false;
          if (done >= minutes) {
            clearInterval(tick);
            resolve();
          }
        });
      }
    }, 5);
  });
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 10));

  const base = rows[1];
  const last = rows[rows.length - 1];
  if (base === undefined || last === undefined) throw new Error("no rows");
  const rssGrowth = last.rssMiB / base.rssMiB - 1;
  const p99Growth = last.p99 / base.p99 - 1;
  console.log(
    `rss ${base.rssMiB.toFixed(1)} -> ${last.rssMiB.toFixed(1)} MiB (${(rssGrowth * 100).toFixed(1)}%), p99 ${base.p99.toFixed(2)} -> ${last.p99.toFixed(2)} ms (${(p99Growth * 100).toFixed(1)}%), minute 2 to minute ${last.minute}`,
  );
  console.log(`summary ${JSON.stringify({ rate, minutes, adminShare, errors, raced, dropped, rows })}`);
  for (const [code, count] of errorCodes) console.log(`  error ${count}x ${code}`);
  if (rssGrowth > GROWTH_LIMIT) {
    console.log(`FAIL: RSS grew by more than ${GROWTH_LIMIT * 100}%`);
    failed = true;
  }
  if (p99Growth > GROWTH_LIMIT) {
    console.log(`FAIL: p99 grew by more than ${GROWTH_LIMIT * 100}%`);
    failed = true;
  }
  if (errors > 0) {
    console.log(`FAIL: ${errors} calls failed`);
    failed = true;
  }
  if (dropped > 0) {
    console.log(
      `FAIL: ${dropped} calls could not be sent (more than ${MAX_IN_FLIGHT} in flight): the rate is too high`,
    );
    failed = true;
  }
  if (!failed) console.log("PASS");
} finally {
  admin.close();
  caller.close();
  service.child.kill("SIGTERM");
  await service.exited;
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

/**
 * Heap bytes per key that verification keeps in memory, measured in
 * isolation (no server, no load): the KeyRecord as the store returns it, the
 * cache entry built from it (KeyCache), and one flush interval's worth of usage
 * in UsageRecorder for the same keys. Explains the peak RSS figure.
 *
 *   node --expose-gc --import tsx bench/cache-memory.ts [--keys 100000]
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { KeyCache } from "../src/service/keys/key-cache.js";
import type { KeyRecord } from "../src/service/keys/model.js";
import { generateToken } from "../src/service/keys/token.js";
import { UsageRecorder } from "../src/service/usage/usage-recorder.js";
import { RESULTS_DIR } from "./lib/servers.js";
import { baseRecord } from "./seed.js";

const { values } = parseArgs({ options: { keys: { type: "string", default: "100000" } } });
const n = Number(values.keys);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc --import tsx bench/cache-memory.ts");

function heap(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

const now = Date.now();
const tokens = Array.from({ length: n }, () => generateToken("kw"));
const base = heap();
// The store builds records from rows with JSON.parse'd columns; build them the same way so strings are not shared.
const records: KeyRecord[] = tokens.map((t, i) => JSON.parse(JSON.stringify(baseRecord(t, i, now))) as KeyRecord);
const withRecords = heap();
const cache = new KeyCache(n);
for (const r of records) cache.set(r);
const withCache = heap();
const usage = new UsageRecorder({ applyUsage: async () => {} }, pino({ level: "silent" }));
const context = { ip: "10.1.2.3", method: "POST", path: "/v1/emails", userAgent: "", tags: {} };
for (const r of records) usage.record(r.id, "VALID", now, context);
const withUsage = heap();

const per = (bytes: number) => `${Math.round(bytes / n)} B/key`;
console.log(`${n.toLocaleString("en-US")} keys:`);
console.log(
  `  KeyRecord objects:                 ${per(withRecords - base)}  (${((withRecords - base) / 1e6).toFixed(0)} MB)`,
);
console.log(
  `  + KeyCache entries (CachedKey, LRU): ${per(withCache - withRecords)}  (${((withCache - withRecords) / 1e6).toFixed(0)} MB)`,
);
console.log(
  `  + one verification each in UsageRecorder (until the next flush): ${per(withUsage - withCache)}  (${((withUsage - withCache) / 1e6).toFixed(0)} MB)`,
);
console.log(
  `  total heap ${((withUsage - base) / 1e6).toFixed(0)} MB; process RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
);
// Keep every structure reachable until after the last measurement (V8 may free dead locals early).
console.log(
  `  (kept: ${tokens.length} tokens, ${records.length} records, ${cache.size} cached, ${usage.pending} pending)`,
);
fs.mkdirSync(RESULTS_DIR, { recursive: true });
fs.writeFileSync(
  path.join(RESULTS_DIR, "cache-memory-latest.json"),
  `${JSON.stringify(
    {
      keys: n,
      date: new Date().toISOString().slice(0, 10),
      node: process.version,
      recordBytesPerKey: (withRecords - base) / n,
      cacheEntryBytesPerKey: (withCache - withRecords) / n,
      pendingUsageBytesPerKey: (withUsage - withCache) / n,
    },
    null,
    2,
  )}\n`,
);

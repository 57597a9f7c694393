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
let records: KeyRecord[] = tokens.map((t, i) => JSON.parse(JSON.stringify(baseRecord(t, i, now))) as KeyRecord);
const withRecords = heap();
const ids = records.map((r) => r.id);
const cache = new KeyCache(n);
for (const r of records) cache.set(r);
const withCache = heap();
// The service keeps only the cache entry: the record the store returned dies once cached.
records = [];
const cacheOnly = heap();
const usage = new UsageRecorder({ applyUsage: async () => {} }, pino({ level: "silent" }));
const context = { ip: "10.1.2.3", method: "POST", path: "/v1/emails", userAgent: "", tags: {} };
for (const id of ids) usage.record(id, "VALID", now, context);
const withUsage = heap();

const per = (bytes: number) => `${Math.round(bytes / n)} B/key`;
console.log(`${n.toLocaleString("en-US")} keys:`);
console.log(
  `  KeyRecord objects (as the store returns them): ${per(withRecords - base)}  (${((withRecords - base) / 1e6).toFixed(0)} MB)`,
);
console.log(
  `  a cached key once its KeyRecord is gone (slim record, CachedKey, LRU slot): ${per(cacheOnly - base)}  (${((cacheOnly - base) / 1e6).toFixed(0)} MB)`,
);
console.log(
  `  + one verification each in UsageRecorder (until the next flush): ${per(withUsage - cacheOnly)}  (${((withUsage - cacheOnly) / 1e6).toFixed(0)} MB)`,
);
console.log(
  `  total heap ${((withUsage - base) / 1e6).toFixed(0)} MB; process RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
);
// Keep every structure reachable until after the last measurement (V8 may free dead locals early).
console.log(`  (kept: ${tokens.length} tokens, ${ids.length} ids, ${cache.size} cached, ${usage.pending} pending)`);
void withCache;
fs.mkdirSync(RESULTS_DIR, { recursive: true });
fs.writeFileSync(
  path.join(RESULTS_DIR, "cache-memory-latest.json"),
  `${JSON.stringify(
    {
      keys: n,
      date: new Date().toISOString().slice(0, 10),
      node: process.version,
      recordBytesPerKey: (withRecords - base) / n,
      cachedKeyBytesPerKey: (cacheOnly - base) / n,
      pendingUsageBytesPerKey: (withUsage - cacheOnly) / n,
    },
    null,
    2,
  )}\n`,
);

import type { UsageBatch, VerifyCode } from "../../keys/model.js";

/**
 * A UsageBatch as a string table and typed arrays, to cross to the writer
 * thread cheaply: structured-cloning 16k log objects took ~20 ms of the event
 * loop; this takes a few, in slices, and the arrays are transferred, not
 * copied.
 */
export interface PackedUsage {
  strings: string[];
  /** Per key: string index of the id, count, last used. */
  keyIds: Uint32Array;
  keyCounts: Float64Array;
  keyLastUsed: Float64Array;
  /** Per bucket: key, hour start, code, count. */
  bucketKeys: Uint32Array;
  bucketHours: Float64Array;
  bucketCodes: Uint32Array;
  bucketCounts: Float64Array;
  /** Per log row: key, time, code, and ip/method/path/user agent/tags JSON (0 = none). */
  logKeys: Uint32Array;
  logAt: Float64Array;
  logCodes: Uint32Array;
  logContext: Uint32Array;
}

const SLICE = 2000;
const CONTEXT_FIELDS = 5;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function packUsage(batch: UsageBatch): Promise<PackedUsage> {
  const strings: string[] = [""];
  const index = new Map<string, number>([["", 0]]);
  const intern = (value: string): number => {
    let i = index.get(value);
    if (i === undefined) {
      i = strings.length;
      strings.push(value);
      index.set(value, i);
    }
    return i;
  };

  const keyIds = new Uint32Array(batch.keys.size);
  const keyCounts = new Float64Array(batch.keys.size);
  const keyLastUsed = new Float64Array(batch.keys.size);
  let k = 0;
  for (const [id, usage] of batch.keys) {
    keyIds[k] = intern(id);
    keyCounts[k] = usage.count;
    keyLastUsed[k] = usage.lastUsedAt;
    if (++k % SLICE === 0) await yieldToLoop();
  }

  const n = batch.buckets.length;
  const bucketKeys = new Uint32Array(n);
  const bucketHours = new Float64Array(n);
  const bucketCodes = new Uint32Array(n);
  const bucketCounts = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const bucket = batch.buckets[i] as UsageBatch["buckets"][number];
    bucketKeys[i] = intern(bucket.keyId);
    bucketHours[i] = bucket.hourStart;
    bucketCodes[i] = intern(bucket.code);
    bucketCounts[i] = bucket.count;
    if ((i + 1) % SLICE === 0) await yieldToLoop();
  }

  const m = batch.logs.length;
  const logKeys = new Uint32Array(m);
  const logAt = new Float64Array(m);
  const logCodes = new Uint32Array(m);
  const logContext = new Uint32Array(m * CONTEXT_FIELDS);
  for (let i = 0; i < m; i++) {
    const log = batch.logs[i] as UsageBatch["logs"][number];
    logKeys[i] = intern(log.keyId);
    logAt[i] = log.at;
    logCodes[i] = intern(log.code);
    const c = log.context;
    if (c !== null) {
      const at = i * CONTEXT_FIELDS;
      logContext[at] = intern(c.ip);
      logContext[at + 1] = intern(c.method);
      logContext[at + 2] = intern(c.path);
      logContext[at + 3] = intern(c.userAgent);
      // Tags are rare; an empty object packs as "none".
      let empty = true;
      for (const _ in c.tags) {
        empty = false;
        break;
      }
      logContext[at + 4] = empty ? 0 : intern(JSON.stringify(c.tags));
    }
    if ((i + 1) % SLICE === 0) await yieldToLoop();
  }
  return {
    strings,
    keyIds,
    keyCounts,
    keyLastUsed,
    bucketKeys,
    bucketHours,
    bucketCodes,
    bucketCounts,
    logKeys,
    logAt,
    logCodes,
    logContext,
  };
}

/** The buffers to transfer along with a PackedUsage. */
export function transferList(packed: PackedUsage): ArrayBuffer[] {
  return [
    packed.keyIds,
    packed.keyCounts,
    packed.keyLastUsed,
    packed.bucketKeys,
    packed.bucketHours,
    packed.bucketCodes,
    packed.bucketCounts,
    packed.logKeys,
    packed.logAt,
    packed.logCodes,
    packed.logContext,
  ].map((array) => array.buffer as ArrayBuffer);
}

export function unpackUsage(packed: PackedUsage): UsageBatch {
  const s = packed.strings;
  const str = (i: number) => s[i] as string;
  const keys = new Map<string, { count: number; lastUsedAt: number }>();
  for (let i = 0; i < packed.keyIds.length; i++) {
    keys.set(str(packed.keyIds[i] as number), {
      count: packed.keyCounts[i] as number,
      lastUsedAt: packed.keyLastUsed[i] as number,
    });
  }
  const buckets: UsageBatch["buckets"] = [];
  for (let i = 0; i < packed.bucketKeys.length; i++) {
    buckets.push({
      keyId: str(packed.bucketKeys[i] as number),
      hourStart: packed.bucketHours[i] as number,
      code: str(packed.bucketCodes[i] as number) as VerifyCode,
      count: packed.bucketCounts[i] as number,
    });
  }
  const logs: UsageBatch["logs"] = [];
  const ctx = packed.logContext;
  for (let i = 0; i < packed.logKeys.length; i++) {
    const at = i * CONTEXT_FIELDS;
    const hasContext =
      (ctx[at] as number) +
        (ctx[at + 1] as number) +
        (ctx[at + 2] as number) +
        (ctx[at + 3] as number) +
        (ctx[at + 4] as number) >
      0;
    logs.push({
      keyId: str(packed.logKeys[i] as number),
      at: packed.logAt[i] as number,
      code: str(packed.logCodes[i] as number) as VerifyCode,
      context: hasContext
        ? {
            ip: str(ctx[at] as number),
            method: str(ctx[at + 1] as number),
            path: str(ctx[at + 2] as number),
            userAgent: str(ctx[at + 3] as number),
            tags:
              (ctx[at + 4] as number) === 0 ? {} : (JSON.parse(str(ctx[at + 4] as number)) as Record<string, string>),
          }
        : null,
    });
  }
  return { keys, buckets, logs };
}

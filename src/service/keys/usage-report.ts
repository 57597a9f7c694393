import type { KeyStore } from "../store/key-store.js";
import { ValidationError } from "./errors.js";
import type { UsageBucketOut, UsageInput } from "./inputs.js";
import type { VerifyCode } from "./model.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const MAX_BUCKETS = 1000;

/**
 * Turns hourly rows into the buckets GetKeyUsage answers with: every bucket in
 * the range, oldest first, zeros included, so a chart needs no gap filling.
 * Days are UTC days.
 */
export async function readUsage(
  store: KeyStore,
  keyId: string,
  input: UsageInput,
  now: number,
): Promise<{ buckets: UsageBucketOut[]; total: number }> {
  const granularity = input.granularity ?? "hour";
  const step = granularity === "day" ? DAY_MS : HOUR_MS;
  const to = input.to ?? now;
  // By default the last 24 hours or 30 days, counting the current one.
  const from = input.from ?? to - (to % step) - ((granularity === "day" ? 30 : 24) - 1) * step;
  if (from >= to) throw new ValidationError("from_time", "must be before to_time");
  const start = from - (from % step);
  if ((to - start) / step > MAX_BUCKETS) {
    throw new ValidationError("from_time", `the range holds more than ${MAX_BUCKETS} ${granularity} buckets`);
  }
  const rows = await store.getUsage(keyId, start, to);
  const buckets: UsageBucketOut[] = [];
  const index = new Map<number, Map<VerifyCode, number>>();
  for (let t = start; t < to; t += step) index.set(t, new Map());
  let total = 0;
  for (const row of rows) {
    const bucket = index.get(row.bucketStart - (row.bucketStart % step));
    if (!bucket) continue;
    bucket.set(row.code, (bucket.get(row.code) ?? 0) + row.count);
    total += row.count;
  }
  for (const [t, outcomes] of index) {
    let sum = 0;
    const list = [...outcomes].map(([code, count]) => {
      sum += count;
      return { code, count };
    });
    buckets.push({ start: t, total: sum, outcomes: list });
  }
  return { buckets, total };
}

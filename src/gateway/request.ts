import { type Timestamp, timestampFromDate } from "@bufbuild/protobuf/wkt";

/**
 * Drops undefined properties, so a request message only carries what the
 * caller gave (protobuf field defaults fill the rest).
 */
export function defined<T extends Record<string, unknown>>(fields: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]: Exclude<T[K], undefined> };
}

/** An ISO-8601 input (already validated by zod) as a protobuf Timestamp. */
export function timestamp(iso: string | undefined): Timestamp | undefined {
  return iso === undefined ? undefined : timestampFromDate(new Date(iso));
}

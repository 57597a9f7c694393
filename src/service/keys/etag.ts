import { ValidationError } from "./errors.js";
import type { KeyRecord } from "./model.js";

/**
 * A key's etag (AIP-154): opaque to callers, it changes with every write that
 * changes the key. A caller that sends it back on a write asks for "only if
 * unchanged since I read it".
 */
export function etagOf(key: Pick<KeyRecord, "version">): string {
  return `v${key.version}`;
}

/** Refuses what this API never issued as an etag (INVALID_ARGUMENT, not a stale-etag ABORTED). */
export function validateEtag(etag: string): void {
  if (!/^v[1-9]\d{0,15}$/.test(etag))
    throw new ValidationError("etag", "is not an etag from this API (read the key again)");
}

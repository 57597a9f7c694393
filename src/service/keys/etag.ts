import type { KeyRecord } from "./model.js";

/**
 * A key's etag (AIP-154): opaque to callers, it changes with every write that
 * changes the key. A caller that sends it back on a write asks for "only if
 * unchanged since I read it".
 */
export function etagOf(key: Pick<KeyRecord, "version">): string {
  return `v${key.version}`;
}

import { LRUCache } from "lru-cache";
import { CidrMatcher } from "./cidr.js";
import type { KeyRecord } from "./model.js";

/** A cached key with what verification derives from it, built once. */
export interface CachedKey {
  record: KeyRecord;
  cidrs: CidrMatcher | null;
  scopes: ReadonlySet<string>;
  wildcardScopes: readonly string[];
}

export function toCachedKey(record: KeyRecord): CachedKey {
  const wildcards = record.scopes.filter((s) => s.endsWith("*")).map((s) => s.slice(0, -1));
  return {
    record,
    cidrs: record.allowedCidrs.length > 0 ? new CidrMatcher(record.allowedCidrs) : null,
    scopes: new Set(record.scopes),
    wildcardScopes: wildcards,
  };
}

/**
 * Keys by token hash. Writes replace entries synchronously, so the very next
 * verification sees a revocation. Unknown hashes live in a separate, smaller
 * negative cache so that a flood of junk tokens neither reaches the database
 * at full rate nor evicts real keys.
 */
export class KeyCache {
  private readonly keys: LRUCache<string, CachedKey>;
  private readonly missing: LRUCache<string, true>;
  /** Lookups answered from memory (known keys and known-missing hashes), and those that were not. */
  hits = 0;
  misses = 0;

  constructor(maxKeys: number, maxMissing = Math.max(1000, Math.floor(maxKeys / 10)), missingTtlMs = 60_000) {
    this.keys = new LRUCache({ max: maxKeys });
    this.missing = new LRUCache({ max: maxMissing, ttl: missingTtlMs, ttlAutopurge: false });
  }

  /** The cached key, `null` when known not to exist, undefined when not cached. */
  get(hash: string): CachedKey | null | undefined {
    const hit = this.keys.get(hash);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    if (this.missing.get(hash)) {
      this.hits++;
      return null;
    }
    this.misses++;
    return undefined;
  }

  set(record: KeyRecord): CachedKey {
    const entry = toCachedKey(record);
    this.missing.delete(record.hash);
    this.keys.set(record.hash, entry);
    return entry;
  }

  /** Replaces the entry only if the key is cached (an update must not pull every key in). */
  refresh(record: KeyRecord): void {
    this.missing.delete(record.hash);
    if (this.keys.has(record.hash)) this.keys.set(record.hash, toCachedKey(record));
  }

  setMissing(hash: string): void {
    this.missing.set(hash, true);
  }

  delete(hash: string): void {
    this.keys.delete(hash);
  }

  get size(): number {
    return this.keys.size;
  }
}

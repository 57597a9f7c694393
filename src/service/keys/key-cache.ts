import { LRUCache } from "lru-cache";
import { CidrMatcher } from "./cidr.js";
import type { VerifiableKey } from "./model.js";

/** Beyond this many scopes a Set answers faster than scanning the array. */
const SCOPE_SET_MIN = 9;

/** A cached key with what verification derives from it, built once. */
export interface CachedKey {
  record: VerifiableKey;
  cidrs: CidrMatcher | null;
  /** The exact scopes: the record's own array when short (a Set costs ~200 B a key), else a Set. */
  scopes: ReadonlySet<string> | readonly string[];
  wildcardScopes: readonly string[];
}

/** Copies what verification reads, so that a full KeyRecord passed in is not kept alive. */
function slim(key: VerifiableKey): VerifiableKey {
  return {
    id: key.id,
    hash: key.hash,
    name: key.name,
    permission: key.permission,
    domainId: key.domainId,
    subject: key.subject,
    scopes: key.scopes,
    claims: key.claims,
    expiresAt: key.expiresAt,
    revokedAt: key.revokedAt,
    enabled: key.enabled,
    allowedCidrs: key.allowedCidrs,
    ratelimits: key.ratelimits,
    remaining: key.remaining,
    refill: key.refill,
    version: key.version,
  };
}

export function toCachedKey(key: VerifiableKey): CachedKey {
  const record = slim(key);
  const wildcards = record.scopes.filter((s) => s.endsWith("*")).map((s) => s.slice(0, -1));
  return {
    record,
    cidrs: record.allowedCidrs.length > 0 ? new CidrMatcher(record.allowedCidrs) : null,
    scopes: record.scopes.length >= SCOPE_SET_MIN ? new Set(record.scopes) : record.scopes,
    wildcardScopes: wildcards.length > 0 ? wildcards : NO_WILDCARDS,
  };
}

const NO_WILDCARDS: readonly string[] = Object.freeze([]);

/** Whether the key holds the scope exactly. */
export function hasExactScope(entry: CachedKey, scope: string): boolean {
  const scopes = entry.scopes;
  return Array.isArray(scopes) ? scopes.includes(scope) : (scopes as ReadonlySet<string>).has(scope);
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

  set(record: VerifiableKey): CachedKey {
    const entry = toCachedKey(record);
    this.missing.delete(record.hash);
    this.keys.set(record.hash, entry);
    return entry;
  }

  /**
   * Replaces the entry only if the key is cached (an update must not pull
   * every key in), and never with an older version than the one it holds.
   */
  refresh(record: VerifiableKey): void {
    this.missing.delete(record.hash);
    const cached = this.keys.peek(record.hash);
    if (cached !== undefined && cached.record.version <= record.version) {
      this.keys.set(record.hash, toCachedKey(record));
    }
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

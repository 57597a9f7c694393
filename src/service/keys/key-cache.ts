import { LRUCache } from "lru-cache";
import { CidrMatcher } from "../../shared/cidr.js";
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
    creditsLowThreshold: key.creditsLowThreshold,
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

/** How many recently changed hashes remember the version they reached. */
const FLOOR_ENTRIES = 10_000;

/**
 * Keys by token hash. Writes replace entries synchronously, so the very next
 * verification sees a revocation. Unknown hashes live in a separate, smaller
 * negative cache so that a flood of junk tokens neither reaches the database
 * at full rate nor evicts real keys.
 *
 * Changes made by other processes arrive through `forget` (see
 * ChangeFollower). A read that was already in flight when a change arrived
 * may carry the key as it was before; the floor (the version each recently
 * changed hash reached) keeps such a read from entering the cache.
 */
export class KeyCache {
  private readonly keys: LRUCache<string, CachedKey>;
  private readonly missing: LRUCache<string, true>;
  private readonly floors = new LRUCache<string, number>({ max: FLOOR_ENTRIES });
  /** While set, nothing is kept: every lookup reads the store (see bypass). */
  private bypassing = false;
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

  /** Caches the key (unless it is older than a change already seen) and returns its entry. */
  set(record: VerifiableKey): CachedKey {
    const entry = toCachedKey(record);
    if (this.bypassing || record.version < (this.floors.get(record.hash) ?? 0)) return entry;
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
    // A hash that changed recently exists (or existed): a read that found nothing predates it.
    if (this.bypassing || this.floors.has(hash)) return;
    this.missing.set(hash, true);
  }

  /**
   * Another process changed the key with this hash to `version`: drop what
   * is older (and any "missing" answer), so that the next lookup reads it.
   */
  forget(hash: string, version: number): void {
    this.missing.delete(hash);
    if ((this.floors.get(hash) ?? 0) < version) this.floors.set(hash, version);
    const cached = this.keys.peek(hash);
    if (cached !== undefined && cached.record.version < version) this.keys.delete(hash);
  }

  /**
   * While on, the cache keeps nothing and forgets what it held: used when
   * this process cannot be sure it has seen every change.
   */
  bypass(on: boolean): void {
    this.bypassing = on;
    if (on) {
      this.keys.clear();
      this.missing.clear();
    }
  }

  delete(hash: string): void {
    this.keys.delete(hash);
  }

  get size(): number {
    return this.keys.size;
  }
}

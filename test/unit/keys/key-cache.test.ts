import { describe, expect, it } from "vitest";
import { hasExactScope, KeyCache, toCachedKey } from "../../../src/service/keys/key-cache.js";
import { makeKey } from "../store/store-fixtures.js";

describe("the key cache", () => {
  it("keeps only what verification reads of a record", () => {
    const record = makeKey({ description: "x".repeat(500), scopes: ["a"] });
    const cached = toCachedKey(record);
    expect(cached.record).not.toBe(record);
    expect(Object.keys(cached.record).sort()).toEqual(
      [
        "allowedCidrs",
        "claims",
        "creditsLowThreshold",
        "domainId",
        "enabled",
        "expiresAt",
        "hash",
        "id",
        "name",
        "permission",
        "ratelimits",
        "refill",
        "remaining",
        "revokedAt",
        "scopes",
        "subject",
        "version",
      ].sort(),
    );
    expect(cached.record).toMatchObject({ id: record.id, hash: record.hash, name: record.name });
  });

  it("answers exact scopes from a short array and from a set alike", () => {
    const few = toCachedKey(makeKey({ scopes: ["emails:send", "domains:*"] }));
    const many = toCachedKey(makeKey({ scopes: Array.from({ length: 12 }, (_, i) => `scope:${i}`) }));
    expect(Array.isArray(few.scopes)).toBe(true);
    expect(many.scopes).toBeInstanceOf(Set);
    expect(hasExactScope(few, "emails:send")).toBe(true);
    expect(hasExactScope(few, "emails:read")).toBe(false);
    expect(few.wildcardScopes).toEqual(["domains:"]);
    expect(hasExactScope(many, "scope:11")).toBe(true);
    expect(hasExactScope(many, "scope:12")).toBe(false);
  });

  it("replaces a cached entry on refresh and leaves an uncached key out", () => {
    const cache = new KeyCache(10);
    const record = makeKey({ name: "Old" });
    cache.set(record);
    cache.refresh({ ...record, name: "New" });
    expect(cache.get(record.hash)?.record.name).toBe("New");
    const other = makeKey();
    cache.refresh(other);
    expect(cache.get(other.hash)).toBeUndefined();
  });

  it("never replaces a cached key with an older version of it", () => {
    const cache = new KeyCache(10);
    const key = makeKey({ version: 3, name: "newer" });
    cache.set(key);
    cache.refresh({ ...key, version: 2, name: "older" });
    expect(cache.get(key.hash)).toMatchObject({ record: { name: "newer", version: 3 } });
    cache.refresh({ ...key, version: 4, name: "newest" });
    expect(cache.get(key.hash)).toMatchObject({ record: { name: "newest", version: 4 } });
  });
});

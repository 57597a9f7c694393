import { describe, expect, it } from "vitest";
import { KeyCache } from "../../../src/service/keys/key-cache.js";
import type { VerifiableKey } from "../../../src/service/keys/model.js";

function key(hash: string, version: number): VerifiableKey {
  return {
    id: `key_${hash}`,
    hash,
    name: "k",
    permission: "full_access",
    domainId: null,
    subject: null,
    scopes: [],
    claims: null,
    expiresAt: null,
    revokedAt: null,
    enabled: true,
    allowedCidrs: [],
    ratelimits: [],
    remaining: null,
    refill: null,
    creditsLowThreshold: null,
    version,
  } as VerifiableKey;
}

describe("the verification cache follows changes made elsewhere", () => {
  it("drops a key older than the change and keeps one as new", () => {
    const cache = new KeyCache(10);
    cache.set(key("a", 1));
    cache.set(key("b", 3));
    cache.forget("a", 2);
    cache.forget("b", 3);
    expect(cache.get("a")).toBeUndefined();
    expect(cache.get("b")?.record.version).toBe(3);
  });

  it("a create drops the hash's 'missing' answer, and a read from before it cannot bring it back", () => {
    const cache = new KeyCache(10);
    cache.setMissing("new");
    expect(cache.get("new")).toBeNull();
    cache.forget("new", 1);
    expect(cache.get("new")).toBeUndefined();
    // A lookup that started before the create and found nothing.
    cache.setMissing("new");
    expect(cache.get("new")).toBeUndefined();
  });

  it("a read that started before a change does not cache the older version", () => {
    const cache = new KeyCache(10);
    cache.forget("a", 5);
    cache.set(key("a", 4));
    expect(cache.get("a")).toBeUndefined();
    cache.set(key("a", 5));
    expect(cache.get("a")?.record.version).toBe(5);
  });

  it("while bypassed it keeps nothing and forgets what it held", () => {
    const cache = new KeyCache(10);
    cache.set(key("a", 1));
    cache.bypass(true);
    expect(cache.get("a")).toBeUndefined();
    cache.set(key("b", 1));
    cache.setMissing("c");
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("c")).toBeUndefined();
    cache.bypass(false);
    cache.set(key("b", 1));
    expect(cache.get("b")?.record.version).toBe(1);
  });
});

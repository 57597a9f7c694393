import { describe, expect, it } from "vitest";
import { generateToken, hashToken, isWellFormedToken, tokenHint } from "../../../src/service/keys/token.js";

describe("tokens", () => {
  it("have the documented shape: prefix, 32 random base62 characters, 6 checksum characters", () => {
    const token = generateToken("kw");
    expect(token).toMatch(/^kw_[0-9A-Za-z]{38}$/);
    expect(isWellFormedToken(token)).toBe(true);
  });

  it("carry at least 180 bits of randomness: no repeats and every base62 character used", () => {
    const seen = new Set<string>();
    const chars = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const random = generateToken("kw").slice(3, 35);
      seen.add(random);
      for (const c of random) chars.add(c);
    }
    expect(seen.size).toBe(2000);
    expect(chars.size).toBe(62);
    expect(32 * Math.log2(62)).toBeGreaterThanOrEqual(180);
  });

  it("reject a mistyped, truncated or extended token by checksum alone", () => {
    const token = generateToken("kw");
    const last = token.at(-1) === "a" ? "b" : "a";
    const typo = token.slice(0, 10) + (token[10] === "x" ? "y" : "x") + token.slice(11);
    expect(isWellFormedToken(token.slice(0, -1) + last)).toBe(false);
    expect(isWellFormedToken(typo)).toBe(false);
    expect(isWellFormedToken(token.slice(0, -1))).toBe(false);
    expect(isWellFormedToken(`${token}a`)).toBe(false);
    expect(isWellFormedToken("")).toBe(false);
    expect(isWellFormedToken("kw_")).toBe(false);
    expect(isWellFormedToken("x".repeat(10_000))).toBe(false);
  });

  it("keep working after the prefix changes", () => {
    const token = generateToken("acme");
    expect(token.startsWith("acme_")).toBe(true);
    expect(isWellFormedToken(token)).toBe(true);
  });

  it("are stored as hex SHA-256 and shown as a hint that cannot be used", () => {
    const token = generateToken("kw");
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(token)).not.toContain(token.slice(3));
    const hint = tokenHint(token);
    expect(hint).toBe(`${token.slice(0, 7)}…${token.slice(-4)}`);
    expect(hint.length).toBeLessThan(token.length / 2);
  });
});

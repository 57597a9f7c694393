import { describe, expect, it } from "vitest";
import { createSessionStore, csrfMatches } from "../../src/gateway/console-session.js";

const TOKEN = `kw_${"a".repeat(38)}`;

describe("console sessions", () => {
  it("open gives back the token and CSRF token of a cookie it made", () => {
    const store = createSessionStore({ ttlMs: 60_000 });
    const made = store.create(TOKEN);
    expect(made.cookie).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    expect(made.cookie).not.toContain(TOKEN);
    expect(store.open(made.cookie)).toEqual({ token: TOKEN, csrf: made.csrf, expiresAt: made.expiresAt });
  });

  it("ends sessions at their time, and on destroy", () => {
    let now = 1_000_000;
    const store = createSessionStore({ ttlMs: 60_000, now: () => now });
    const a = store.create(TOKEN);
    const b = store.create(TOKEN);
    now += 59_999;
    expect(store.open(a.cookie)?.token).toBe(TOKEN);
    store.destroy(b.cookie);
    expect(store.open(b.cookie)).toBeUndefined();
    now += 1;
    expect(store.open(a.cookie)).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it("refuses a cookie whose id is right but whose key is not", () => {
    const store = createSessionStore({ ttlMs: 60_000 });
    const made = store.create(TOKEN);
    const [id] = made.cookie.split(".");
    const other = store.create(TOKEN).cookie.split(".")[1];
    expect(store.open(`${id}.${other}`)).toBeUndefined();
    expect(store.open(undefined)).toBeUndefined();
    expect(store.open("not-a-cookie")).toBeUndefined();
  });

  it("keeps at most `max` sessions, dropping the oldest", () => {
    const store = createSessionStore({ ttlMs: 60_000, max: 2 });
    const first = store.create(TOKEN);
    store.create(TOKEN);
    const third = store.create(TOKEN);
    expect(store.size).toBe(2);
    expect(store.open(first.cookie)).toBeUndefined();
    expect(store.open(third.cookie)?.token).toBe(TOKEN);
  });

  it("compares CSRF tokens exactly", () => {
    expect(csrfMatches("abc", "abc")).toBe(true);
    expect(csrfMatches("abc", "abd")).toBe(false);
    expect(csrfMatches("abc", "ab")).toBe(false);
    expect(csrfMatches("abc", undefined)).toBe(false);
  });
});

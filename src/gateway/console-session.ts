import { timingSafeEqual } from "node:crypto";
import type { Logger } from "../shared/logger.js";
import { createRedisSessionStorage } from "./session-redis.js";
import { newCsrfToken, newSessionSecrets, parseSessionCookie, sealToken, unsealToken } from "./session-seal.js";

/**
 * The console's sign-in sessions. An admin pastes a key once; the gateway
 * keeps a session for it and gives the browser an HttpOnly cookie holding an
 * opaque session id and a per-session key (`<id>.<key>`, base64url). Redis
 * holds, per session, the token encrypted with that key (AES-256-GCM), the
 * CSRF token and the expiry, under the SHA-256 of the id: neither the
 * browser (no token in page memory or storage) nor Redis, a dump of it or a
 * gateway's memory (no session ids, no session keys) has the token. Every
 * call decrypts it and verifies it with VerifyKey, as for a Bearer call, so
 * a revoked, disabled or expired key (or a rotated one once its grace ends)
 * ends the session at the next call.
 *
 * Sessions live in Redis (REDIS_URL, under the queue prefix; session-redis.ts):
 * a gateway restart signs nobody out, and any replica behind one address
 * serves any session, without sticky sessions. Redis drops a session when its
 * time is up (key TTL), and open() checks the expiry too. While Redis cannot
 * be reached, sign-in and cookie calls answer 503 (SessionsUnavailableError);
 * Bearer calls never touch the session store.
 *
 * There is no cap on the number of sessions (the in-memory store kept at most
 * 10,000, dropping the oldest). Each one is a few hundred bytes that Redis
 * deletes at its TTL, a session needs a valid console key and goes through the
 * per-address sign-in limit, and dropping the oldest would let one admin's
 * sign-ins sign the others out.
 */

export const SESSION_COOKIE = "keyward_session";
/** Double-submit CSRF token: readable by the console's script, sent back as the x-keyward-csrf header. */
export const CSRF_COOKIE = "keyward_csrf";
export const CSRF_HEADER = "x-keyward-csrf";

export { SessionsUnavailableError } from "./session-redis.js";

export interface OpenSession {
  /** The admin's token, decrypted for this call only. */
  token: string;
  csrf: string;
  expiresAt: number;
}

export interface NewSession {
  /** The session cookie's value. */
  cookie: string;
  csrf: string;
  expiresAt: number;
}

/** Every method throws SessionsUnavailableError when Redis cannot be asked. */
export interface SessionStore {
  create(token: string): Promise<NewSession>;
  /** The session of a cookie value; undefined when unknown, forged or expired. */
  open(cookie: string | undefined): Promise<OpenSession | undefined>;
  /** Ends the session of a cookie value (nothing if it has none). */
  destroy(cookie: string | undefined): Promise<void>;
  readonly ttlMs: number;
  /** Closes the Redis connection; with the gateway. */
  close(): Promise<void>;
}

export interface SessionStoreOptions {
  ttlMs: number;
  redisUrl: string;
  /** The queue prefix (resolveQueuePrefix): sessions sit beside the gateway's queues. */
  prefix: string;
  logger: Logger;
  now?: () => number;
}

export function createSessionStore(options: SessionStoreOptions): SessionStore {
  const now = options.now ?? Date.now;
  const storage = createRedisSessionStorage(options);

  return {
    ttlMs: options.ttlMs,
    async create(token) {
      const secrets = newSessionSecrets();
      const csrf = newCsrfToken();
      const expiresAt = now() + options.ttlMs;
      await storage.put(secrets.lookup, { ...sealToken(token, secrets.key), csrf, expiresAt }, options.ttlMs);
      return { cookie: secrets.cookie, csrf, expiresAt };
    },
    async open(cookie) {
      const parsed = parseSessionCookie(cookie);
      if (!parsed) return undefined;
      const stored = await storage.get(parsed.lookup);
      if (!stored) return undefined;
      if (stored.expiresAt <= now()) {
        // Redis's TTL removes it anyway; this only saves it the wait when clocks disagree.
        await storage.remove(parsed.lookup).catch(() => undefined);
        return undefined;
      }
      const token = unsealToken(stored, parsed.key);
      // The right id with a wrong key: not this session's cookie.
      if (token === undefined) return undefined;
      return { token, csrf: stored.csrf, expiresAt: stored.expiresAt };
    },
    async destroy(cookie) {
      const parsed = parseSessionCookie(cookie);
      if (parsed) await storage.remove(parsed.lookup);
    },
    close: () => storage.close(),
  };
}

/** Whether the x-keyward-csrf header matches the session's token, in constant time. */
export function csrfMatches(expected: string, sent: string | undefined): boolean {
  if (sent === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(sent);
  return a.length === b.length && timingSafeEqual(a, b);
}

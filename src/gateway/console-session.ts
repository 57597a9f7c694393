import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * The console's sign-in sessions. An admin pastes a key once; the gateway
 * keeps a session for it and gives the browser an HttpOnly cookie holding an
 * opaque session id and a per-session key (`<id>.<key>`, base64url). The
 * gateway's memory holds, per session, the token encrypted with that key
 * (AES-256-GCM), under the SHA-256 of the id: neither the browser (no token
 * in page memory or storage) nor a dump of the gateway's memory alone (no
 * session keys) has the token. Every call decrypts it and verifies it with
 * VerifyKey, as for a Bearer call, so a revoked, disabled or expired key
 * (or a rotated one once its grace ends) ends the session at the next call.
 *
 * Sessions live in this gateway's memory: a restart signs everyone out, and
 * several gateway replicas behind one address need sticky sessions.
 */

export const SESSION_COOKIE = "keyward_session";
/** Double-submit CSRF token: readable by the console's script, sent back as the x-keyward-csrf header. */
export const CSRF_COOKIE = "keyward_csrf";
export const CSRF_HEADER = "x-keyward-csrf";

/** Sessions kept at most; the oldest goes first when a new one would exceed it. */
const MAX_SESSIONS = 10_000;

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

interface Entry {
  iv: Buffer;
  sealed: Buffer;
  tag: Buffer;
  csrf: string;
  expiresAt: number;
}

export interface SessionStore {
  create(token: string): NewSession;
  /** The session of a cookie value; undefined when unknown, forged or expired. */
  open(cookie: string | undefined): OpenSession | undefined;
  /** Ends the session of a cookie value (nothing if it has none). */
  destroy(cookie: string | undefined): void;
  readonly ttlMs: number;
  readonly size: number;
}

export function createSessionStore(options: { ttlMs: number; now?: () => number; max?: number }): SessionStore {
  const now = options.now ?? Date.now;
  const max = options.max ?? MAX_SESSIONS;
  // Insertion order is creation order: the first entries are the oldest.
  const entries = new Map<string, Entry>();

  const sweep = () => {
    const t = now();
    for (const [id, entry] of entries) if (entry.expiresAt <= t) entries.delete(id);
    while (entries.size >= max) {
      const oldest = entries.keys().next().value;
      if (oldest === undefined) break;
      entries.delete(oldest);
    }
  };

  const parse = (cookie: string | undefined): { lookup: string; key: Buffer } | undefined => {
    if (!cookie) return undefined;
    const match = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(cookie);
    if (!match) return undefined;
    return { lookup: digest(match[1] as string), key: Buffer.from(match[2] as string, "base64url") };
  };

  return {
    ttlMs: options.ttlMs,
    get size() {
      return entries.size;
    },
    create(token) {
      sweep();
      const id = randomBytes(16).toString("base64url");
      const key = randomBytes(32);
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      const sealed = Buffer.concat([cipher.update(token, "utf8"), cipher.final()]);
      const csrf = randomBytes(32).toString("base64url");
      const expiresAt = now() + options.ttlMs;
      entries.set(digest(id), { iv, sealed, tag: cipher.getAuthTag(), csrf, expiresAt });
      return { cookie: `${id}.${key.toString("base64url")}`, csrf, expiresAt };
    },
    open(cookie) {
      const parsed = parse(cookie);
      if (!parsed) return undefined;
      const entry = entries.get(parsed.lookup);
      if (!entry) return undefined;
      if (entry.expiresAt <= now()) {
        entries.delete(parsed.lookup);
        return undefined;
      }
      try {
        const decipher = createDecipheriv("aes-256-gcm", parsed.key, entry.iv);
        decipher.setAuthTag(entry.tag);
        const token = Buffer.concat([decipher.update(entry.sealed), decipher.final()]).toString("utf8");
        return { token, csrf: entry.csrf, expiresAt: entry.expiresAt };
      } catch {
        // The right id with a wrong key: not this session's cookie.
        return undefined;
      }
    },
    destroy(cookie) {
      const parsed = parse(cookie);
      if (parsed) entries.delete(parsed.lookup);
    },
  };
}

/** Whether the x-keyward-csrf header matches the session's token, in constant time. */
export function csrfMatches(expected: string, sent: string | undefined): boolean {
  if (sent === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(sent);
  return a.length === b.length && timingSafeEqual(a, b);
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}

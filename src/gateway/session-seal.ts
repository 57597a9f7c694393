import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/**
 * The cryptography of a console session (console-session.ts): the cookie's
 * `<id>.<key>`, the lookup the store files a session under (SHA-256 of the
 * id, so the store never holds an id that would make a cookie), and the
 * token sealed with the per-session key, which only the cookie carries.
 */

/** The admin's token, encrypted with AES-256-GCM under the session's key. */
export interface SealedToken {
  iv: Buffer;
  sealed: Buffer;
  tag: Buffer;
}

/** What a new session's cookie is made of, and where the store files it. */
export interface SessionSecrets {
  /** The session cookie's value: `<id>.<key>`, base64url. */
  cookie: string;
  /** SHA-256 of the id: the store's name for the session. */
  lookup: string;
  key: Buffer;
}

export function newSessionSecrets(): SessionSecrets {
  const id = randomBytes(16).toString("base64url");
  const key = randomBytes(32);
  return { cookie: `${id}.${key.toString("base64url")}`, lookup: digest(id), key };
}

/** The lookup and key of a cookie value; undefined for anything that is not one of ours in shape. */
export function parseSessionCookie(cookie: string | undefined): { lookup: string; key: Buffer } | undefined {
  if (!cookie) return undefined;
  const match = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(cookie);
  if (!match) return undefined;
  return { lookup: digest(match[1] as string), key: Buffer.from(match[2] as string, "base64url") };
}

export function sealToken(token: string, key: Buffer): SealedToken {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const sealed = Buffer.concat([cipher.update(token, "utf8"), cipher.final()]);
  return { iv, sealed, tag: cipher.getAuthTag() };
}

/** The token; undefined when the key is not the one it was sealed with (or the sealed bytes were altered). */
export function unsealToken(sealed: SealedToken, key: Buffer): string | undefined {
  try {
    // A tag of exactly 16 bytes: a shortened one (stored data altered) would make forgeries cheaper.
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.iv, { authTagLength: 16 });
    decipher.setAuthTag(sealed.tag);
    return Buffer.concat([decipher.update(sealed.sealed), decipher.final()]).toString("utf8");
  } catch {
    return undefined;
  }
}

/** A fresh CSRF token for the double-submit cookie. */
export function newCsrfToken(): string {
  return randomBytes(32).toString("base64url");
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}

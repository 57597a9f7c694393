import { createHash, randomBytes } from "node:crypto";
import { type AesGcmSealed, openAesGcm, sealAesGcm } from "../shared/aes-gcm.js";

/**
 * The cryptography of a console session (console-session.ts): the cookie's
 * `<id>.<key>`, the lookup the store files a session under (SHA-256 of the
 * id, so the store never holds an id that would make a cookie), and the
 * token sealed with the per-session key, which only the cookie carries.
 */

/** The admin's token, encrypted with AES-256-GCM under the session's key. */
export type SealedToken = AesGcmSealed;

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
  return sealAesGcm(token, key);
}

/** The token; undefined when the key is not the one it was sealed with (or the sealed bytes were altered). */
export function unsealToken(sealed: SealedToken, key: Buffer): string | undefined {
  return openAesGcm(sealed, key);
}

/** A fresh CSRF token for the double-submit cookie. */
export function newCsrfToken(): string {
  return randomBytes(32).toString("base64url");
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}

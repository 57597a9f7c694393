import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Signed download links: GET /exports/<id>/download?expires=<ms>&sig=<hex>,
 * where sig = HMAC-SHA256(secret, "<id>.<expires>"). The link expires with
 * the export; changing any part of it breaks the signature. The signature is
 * a second lock, not the only one: the download also needs an admin key.
 */

/** Fixed label of the derived secret; changing it invalidates every link issued. */
const DERIVED_SECRET_LABEL = "keyward export download links v1";

/**
 * KEYWARD_EXPORT_SECRET, or one derived from the service token, so that the
 * gateway and the workers (which share that token) agree with no extra setup.
 * Derived with HMAC, so a link never reveals anything about the token.
 */
export function exportLinkSecret(config: { KEYWARD_EXPORT_SECRET?: string }, serviceToken: string): Buffer {
  if (config.KEYWARD_EXPORT_SECRET) return Buffer.from(config.KEYWARD_EXPORT_SECRET, "utf8");
  return createHmac("sha256", serviceToken).update(DERIVED_SECRET_LABEL).digest();
}

/** The base of absolute links in mails and answers: KEYWARD_PUBLIC_URL, else the gateway on this machine. */
export function publicBaseUrl(config: { KEYWARD_PUBLIC_URL?: string; KEYWARD_GATEWAY_PORT: number }): string {
  const base = config.KEYWARD_PUBLIC_URL ?? `http://127.0.0.1:${config.KEYWARD_GATEWAY_PORT}`;
  return base.replace(/\/+$/, "");
}

export function signExportLink(secret: Buffer, exportId: string, expiresAtMs: number | string): string {
  return createHmac("sha256", secret).update(`${exportId}.${expiresAtMs}`).digest("hex");
}

/** The path and query of an export's download link. */
export function exportDownloadPath(secret: Buffer, exportId: string, expiresAtMs: number): string {
  const sig = signExportLink(secret, exportId, expiresAtMs);
  return `/exports/${encodeURIComponent(exportId)}/download?expires=${expiresAtMs}&sig=${sig}`;
}

export function exportDownloadUrl(baseUrl: string, secret: Buffer, exportId: string, expiresAtMs: number): string {
  return `${baseUrl}${exportDownloadPath(secret, exportId, expiresAtMs)}`;
}

/** The parts of a download link as it arrived, not yet trusted. */
export interface DownloadLinkParams {
  exportId: string;
  expires: string | null;
  sig: string | null;
}

export type LinkCheck = { ok: true; expiresAtMs: number } | { ok: false };

/**
 * Checks a link's signature in constant time. Only a well-formed link is
 * compared at all; a malformed one fails the same way a forged one does.
 */
export function verifyExportLink(secret: Buffer, link: DownloadLinkParams): LinkCheck {
  const { expires, sig } = link;
  // Canonical numbers only (no leading zeros), so one link has exactly one spelling.
  if (!expires || !/^(0|[1-9]\d{0,15})$/.test(expires) || !sig || !/^[0-9a-f]{64}$/.test(sig)) return { ok: false };
  const expected = Buffer.from(signExportLink(secret, link.exportId, expires), "hex");
  const given = Buffer.from(sig, "hex");
  // Both are 32 bytes here; timingSafeEqual needs equal lengths.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false };
  return { ok: true, expiresAtMs: Number(expires) };
}

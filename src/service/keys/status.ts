import type { KeyRecord, KeyStatus } from "./model.js";

export const DAY_MS = 86_400_000;

/**
 * The status a key has at `now`. Precedence: revoked, expired, disabled,
 * inactive, active. Inactive means not used for `inactiveDays`, or never used
 * and created that long ago (Resend's rule). Store filters must agree with
 * this function.
 */
export function deriveStatus(key: KeyRecord, now: number, inactiveDays: number): KeyStatus {
  if (key.revokedAt !== null && key.revokedAt <= now) return "revoked";
  if (key.expiresAt !== null && key.expiresAt <= now) return "expired";
  if (!key.enabled) return "disabled";
  if ((key.lastUsedAt ?? key.createdAt) <= now - inactiveDays * DAY_MS) return "inactive";
  return "active";
}

/**
 * Enum values as the gateway's JSON spells them: the proto name without its
 * shared prefix, in lower case (PERMISSION_FULL_ACCESS -> "full_access"), as
 * Resend's API does. The word lists are the zod enums of the inputs and the
 * CLI's choices; enums.ts maps them to the proto numbers.
 */
export const PERMISSION_WORDS = ["full_access", "sending_access"] as const;
export const KEY_STATUS_WORDS = ["active", "inactive", "expired", "revoked", "disabled"] as const;
export const VERIFY_CODE_WORDS = [
  "valid",
  "malformed",
  "not_found",
  "revoked",
  "expired",
  "disabled",
  "ip_not_allowed",
  "insufficient_permission",
  "domain_mismatch",
  "missing_scopes",
  "rate_limited",
  "usage_exceeded",
] as const;
export const EXPORT_STATE_WORDS = ["pending", "ready", "failed", "expired"] as const;
export const EXPORT_RESOURCE_WORDS = ["api_keys", "key_logs"] as const;
export const EXPORT_MAIL_STATE_WORDS = ["pending", "sent", "failed", "none"] as const;
export const GRANULARITY_WORDS = ["hour", "day"] as const;
export const REFILL_INTERVAL_WORDS = ["daily", "monthly"] as const;

export type PermissionWord = (typeof PERMISSION_WORDS)[number];
export type KeyStatusWord = (typeof KEY_STATUS_WORDS)[number];
export type VerifyCodeWord = (typeof VERIFY_CODE_WORDS)[number];
export type ExportStateWord = (typeof EXPORT_STATE_WORDS)[number];
export type ExportResourceWord = (typeof EXPORT_RESOURCE_WORDS)[number];
export type ExportMailStateWord = (typeof EXPORT_MAIL_STATE_WORDS)[number];
export type GranularityWord = (typeof GRANULARITY_WORDS)[number];
export type RefillIntervalWord = (typeof REFILL_INTERVAL_WORDS)[number];

/** The actions of the audit log, as AuditEvent.action spells them. */
export const AUDIT_ACTION_WORDS = [
  "key.create",
  "key.update",
  "key.delete",
  "key.rotate",
  "key.enable",
  "key.disable",
  "key.bootstrap",
  "key.auto_revoke",
  "key.leak",
  "export.create",
  "webhook.create",
  "webhook.update",
  "webhook.delete",
  "webhook.resend",
  "webhook.auto_disable",
] as const;
export type AuditActionWord = (typeof AUDIT_ACTION_WORDS)[number];

/**
 * The events Keyward announces to webhook endpoints, as their `type` says.
 * The payload of each is `{type, timestamp, data}` (the Standard Webhooks
 * shape): `data.key` is the key as the gateway shows it (never a token),
 * `data.export` the export.
 */
export const WEBHOOK_EVENT_TYPES = [
  "key.created",
  "key.updated",
  "key.rotated",
  "key.revoked",
  "key.disabled",
  "key.enabled",
  "key.expiring",
  "key.expired",
  "key.inactive",
  "key.credits_low",
  "key.leaked",
  "export.ready",
  "export.failed",
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * Events the workers act on that no endpoint receives: the admins are mailed
 * that an endpoint was disabled after failing for days.
 */
export const INTERNAL_EVENT_TYPES = ["webhook_endpoint.disabled"] as const;

export type InternalEventType = (typeof INTERNAL_EVENT_TYPES)[number];

const PUBLIC: ReadonlySet<string> = new Set(WEBHOOK_EVENT_TYPES);

export function isWebhookEventType(type: string): type is WebhookEventType {
  return PUBLIC.has(type);
}

/** Days before expiry at which `key.expiring` is sent, once each. */
export const EXPIRY_NOTICE_DAYS = [7, 1] as const;

/** `key.credits_low` fires below this share of the refill amount (or the key's own threshold). */
export const CREDITS_LOW_SHARE = 0.1;

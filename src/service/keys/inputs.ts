import type {
  AuditFilter,
  ExportFilters,
  ExportMailState,
  ExportResource,
  ExportState,
  JsonObject,
  KeyFilter,
  KeyLogFilter,
  Permission,
  RateLimitRule,
  RefillRule,
  VerifyCode,
  VerifyContext,
} from "./model.js";

/** What CreateKey asks for; undefined fields take their defaults. */
export interface CreateKeyInput {
  name: string;
  description?: string;
  permission?: Permission;
  domainId?: string;
  subject?: string;
  scopes?: string[];
  claims?: JsonObject;
  expiresInSeconds?: number;
  enabled?: boolean;
  allowedCidrs?: string[];
  ratelimits?: RateLimitRule[];
  remaining?: number;
  refill?: Omit<RefillRule, "lastRefillAt">;
  creditsLowThreshold?: number;
}

/** The fields UpdateKey may change, by their proto names (the update mask's paths). */
export const UPDATABLE_FIELDS = [
  "name",
  "description",
  "permission",
  "domain_id",
  "scopes",
  "claims",
  "expire_time",
  "enabled",
  "allowed_cidrs",
  "ratelimits",
  "remaining",
  "refill",
  "credits_low_threshold",
] as const;

export type UpdatableField = (typeof UPDATABLE_FIELDS)[number];

/**
 * UpdateKey: `fields` names what changes (the update mask's paths); the other
 * properties carry the new values. A named field whose value is undefined is
 * cleared (domain, claims, expiry, remaining, refill).
 */
export interface UpdateKeyInput {
  fields: string[];
  name?: string;
  description?: string;
  permission?: Permission;
  domainId?: string;
  scopes?: string[];
  claims?: JsonObject;
  expiresAt?: number;
  enabled?: boolean;
  allowedCidrs?: string[];
  ratelimits?: RateLimitRule[];
  remaining?: number;
  refill?: Omit<RefillRule, "lastRefillAt">;
  creditsLowThreshold?: number;
  /** Only if the key's etag is still this (empty or undefined: whatever it is). */
  etag?: string;
}

export interface VerifyInput {
  token: string;
  requiredPermission?: Permission;
  domainId?: string;
  requiredScopes?: string[];
  context?: VerifyContext;
  cost?: number;
  ratelimits?: string[];
}

export interface PageRequest {
  /** 1-100; undefined means 20. */
  pageSize?: number;
  /** Opaque, from a previous page's nextPageToken. */
  pageToken?: string;
}

export interface Page<T> {
  items: T[];
  /** Empty on the last page. */
  nextPageToken: string;
}

export type ListKeysInput = PageRequest & KeyFilter;
export type ListKeyLogsInput = PageRequest & KeyLogFilter & { id: string };
export type ListAuditInput = PageRequest & AuditFilter;

export interface UsageInput {
  id: string;
  from?: number;
  to?: number;
  granularity?: "hour" | "day";
}

export interface UsageBucketOut {
  start: number;
  total: number;
  outcomes: { code: VerifyCode; count: number }[];
}

export interface CreateExportInput {
  resource: ExportResource;
  filters: ExportFilters;
}

export interface UpdateExportInput {
  id: string;
  /** Undefined: only the mail's state changes. */
  state?: ExportState;
  rowCount?: number;
  byteSize?: number;
  error?: string;
  attempts?: number;
  /** Undefined leaves the mail's state as it is. */
  mailState?: ExportMailState;
  mailError?: string;
}

export interface SweepInput {
  inactiveDays?: number;
  autoRevokeDays?: number;
  logRetentionDays?: number;
  rotationDays?: number;
}

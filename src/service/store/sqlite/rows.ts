import type {
  AuditAction,
  AuditEntry,
  AuditRow,
  ExportFilters,
  ExportMailState,
  ExportRecord,
  ExportResource,
  ExportState,
  JsonObject,
  KeyLogEntry,
  KeyLogRow,
  KeyRecord,
  Permission,
  RateLimitRule,
  RefillRule,
  VerifyCode,
} from "../../keys/model.js";

/**
 * Column shapes of the tables and the mapping between them and the domain's
 * records. JSON columns hold arrays and objects; times are INTEGER ms.
 */

export interface KeyColumns {
  id: string;
  hash: string;
  token_hint: string;
  name: string;
  description: string;
  permission: string;
  domain_id: string | null;
  subject: string | null;
  scopes: string;
  claims: string | null;
  created_by: string;
  expires_at: number | null;
  enabled: number;
  allowed_cidrs: string;
  created_at: number;
  updated_at: number;
  revoked_at: number | null;
  revocation_reason: string | null;
  last_used_at: number | null;
  request_count: number;
  rotated_from_id: string | null;
  rotated_to_id: string | null;
  inactive_since: number | null;
  rotation_notified_at: number | null;
  ratelimits: string;
  remaining: number | null;
  refill: string | null;
  version: number;
  credits_low_threshold: number | null;
}

/** Every column of `keys`, in the order keyColumnsFromValues reads them. */
export const KEY_COLUMN_NAMES = [
  "id",
  "hash",
  "token_hint",
  "name",
  "description",
  "permission",
  "domain_id",
  "subject",
  "scopes",
  "claims",
  "created_by",
  "expires_at",
  "enabled",
  "allowed_cidrs",
  "created_at",
  "updated_at",
  "revoked_at",
  "revocation_reason",
  "last_used_at",
  "request_count",
  "rotated_from_id",
  "rotated_to_id",
  "inactive_since",
  "rotation_notified_at",
  "ratelimits",
  "remaining",
  "refill",
  "version",
  "credits_low_threshold",
] as const satisfies readonly (keyof KeyColumns)[];

/**
 * A row read in raw mode (an array in KEY_COLUMN_NAMES order). better-sqlite3
 * builds a named-column object through V8's C++ API at ~0.3 µs a column; the
 * array and this literal cost a third of that, on every cache miss.
 */
export function keyColumnsFromValues(v: readonly unknown[]): KeyColumns {
  return {
    id: v[0] as string,
    hash: v[1] as string,
    token_hint: v[2] as string,
    name: v[3] as string,
    description: v[4] as string,
    permission: v[5] as string,
    domain_id: v[6] as string | null,
    subject: v[7] as string | null,
    scopes: v[8] as string,
    claims: v[9] as string | null,
    created_by: v[10] as string,
    expires_at: v[11] as number | null,
    enabled: v[12] as number,
    allowed_cidrs: v[13] as string,
    created_at: v[14] as number,
    updated_at: v[15] as number,
    revoked_at: v[16] as number | null,
    revocation_reason: v[17] as string | null,
    last_used_at: v[18] as number | null,
    request_count: v[19] as number,
    rotated_from_id: v[20] as string | null,
    rotated_to_id: v[21] as string | null,
    inactive_since: v[22] as number | null,
    rotation_notified_at: v[23] as number | null,
    ratelimits: v[24] as string,
    remaining: v[25] as number | null,
    refill: v[26] as string | null,
    version: v[27] as number,
    credits_low_threshold: v[28] as number | null,
  };
}

export function keyToColumns(key: KeyRecord): KeyColumns {
  return {
    id: key.id,
    hash: key.hash,
    token_hint: key.tokenHint,
    name: key.name,
    description: key.description,
    permission: key.permission,
    domain_id: key.domainId,
    subject: key.subject,
    scopes: JSON.stringify(key.scopes),
    claims: key.claims === null ? null : JSON.stringify(key.claims),
    created_by: key.createdBy,
    expires_at: key.expiresAt,
    enabled: key.enabled ? 1 : 0,
    allowed_cidrs: JSON.stringify(key.allowedCidrs),
    created_at: key.createdAt,
    updated_at: key.updatedAt,
    revoked_at: key.revokedAt,
    revocation_reason: key.revocationReason,
    last_used_at: key.lastUsedAt,
    request_count: key.requestCount,
    rotated_from_id: key.rotatedFromId,
    rotated_to_id: key.rotatedToId,
    inactive_since: key.inactiveSince,
    rotation_notified_at: key.rotationNotifiedAt,
    ratelimits: JSON.stringify(key.ratelimits),
    remaining: key.remaining,
    refill: key.refill === null ? null : JSON.stringify(key.refill),
    version: key.version,
    credits_low_threshold: key.creditsLowThreshold,
  };
}

export function keyFromColumns(row: KeyColumns): KeyRecord {
  return {
    id: row.id,
    hash: row.hash,
    tokenHint: row.token_hint,
    name: row.name,
    description: row.description,
    permission: row.permission as Permission,
    domainId: row.domain_id,
    subject: row.subject,
    scopes: JSON.parse(row.scopes) as string[],
    claims: row.claims === null ? null : (JSON.parse(row.claims) as JsonObject),
    createdBy: row.created_by,
    expiresAt: row.expires_at,
    enabled: row.enabled !== 0,
    allowedCidrs: JSON.parse(row.allowed_cidrs) as string[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    revokedAt: row.revoked_at,
    revocationReason: row.revocation_reason,
    lastUsedAt: row.last_used_at,
    requestCount: row.request_count,
    rotatedFromId: row.rotated_from_id,
    rotatedToId: row.rotated_to_id,
    inactiveSince: row.inactive_since,
    rotationNotifiedAt: row.rotation_notified_at,
    ratelimits: JSON.parse(row.ratelimits) as RateLimitRule[],
    remaining: row.remaining,
    refill: row.refill === null ? null : (JSON.parse(row.refill) as RefillRule),
    version: row.version,
    creditsLowThreshold: row.credits_low_threshold ?? null,
  };
}

export interface KeyLogColumns {
  id: number;
  key_id: string;
  at: number;
  code: string;
  ip: string | null;
  method: string | null;
  path: string | null;
  user_agent: string | null;
  tags: string | null;
}

/** Insert parameters of one log entry; a missing context is stored as NULLs. */
export function logEntryToColumns(entry: KeyLogEntry): Omit<KeyLogColumns, "id"> {
  const context = entry.context;
  const hasTags = context !== null && Object.keys(context.tags).length > 0;
  return {
    key_id: entry.keyId,
    at: entry.at,
    code: entry.code,
    ip: context?.ip || null,
    method: context?.method || null,
    path: context?.path || null,
    user_agent: context?.userAgent || null,
    tags: hasTags ? JSON.stringify(context.tags) : null,
  };
}

export function logFromColumns(row: KeyLogColumns): KeyLogRow {
  const tags = row.tags === null ? {} : (JSON.parse(row.tags) as Record<string, string>);
  const empty = !row.ip && !row.method && !row.path && !row.user_agent && Object.keys(tags).length === 0;
  return {
    id: row.id,
    keyId: row.key_id,
    at: row.at,
    code: row.code as VerifyCode,
    context: empty
      ? null
      : {
          ip: row.ip ?? "",
          method: row.method ?? "",
          path: row.path ?? "",
          userAgent: row.user_agent ?? "",
          tags,
        },
  };
}

export interface AuditColumns {
  id: number;
  at: number;
  actor: string;
  actor_key_id: string | null;
  action: string;
  key_id: string | null;
  export_id: string | null;
  summary: string;
  changed_fields: string;
}

export function auditToColumns(entry: AuditEntry): Omit<AuditColumns, "id"> {
  return {
    at: entry.at,
    actor: entry.actor,
    actor_key_id: entry.actorKeyId,
    action: entry.action,
    key_id: entry.keyId,
    export_id: entry.exportId,
    summary: entry.summary,
    changed_fields: JSON.stringify(entry.changedFields),
  };
}

export function auditFromColumns(row: AuditColumns): AuditRow {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    actorKeyId: row.actor_key_id,
    action: row.action as AuditAction,
    keyId: row.key_id,
    exportId: row.export_id,
    summary: row.summary,
    changedFields: JSON.parse(row.changed_fields) as string[],
  };
}

export interface ExportColumns {
  id: string;
  resource: string;
  filters: string;
  state: string;
  requested_by: string;
  created_at: number;
  updated_at: number;
  expires_at: number;
  matching_rows: number;
  row_count: number;
  byte_size: number;
  error: string | null;
  attempts: number;
  mail_state: string | null;
  mail_error: string | null;
  mail_at: number | null;
}

export function exportToColumns(record: ExportRecord): ExportColumns {
  return {
    id: record.id,
    resource: record.resource,
    filters: JSON.stringify(record.filters),
    state: record.state,
    requested_by: record.requestedBy,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    expires_at: record.expiresAt,
    matching_rows: record.matchingRows,
    row_count: record.rowCount,
    byte_size: record.byteSize,
    error: record.error,
    attempts: record.attempts,
    mail_state: record.mailState,
    mail_error: record.mailError,
    mail_at: record.mailAt,
  };
}

export function exportFromColumns(row: ExportColumns): ExportRecord {
  return {
    id: row.id,
    resource: row.resource as ExportResource,
    filters: JSON.parse(row.filters) as ExportFilters,
    state: row.state as ExportState,
    requestedBy: row.requested_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    matchingRows: row.matching_rows,
    rowCount: row.row_count,
    byteSize: row.byte_size,
    error: row.error,
    attempts: row.attempts,
    mailState: row.mail_state as ExportMailState | null,
    mailError: row.mail_error,
    mailAt: row.mail_at,
  };
}

/** Newest first, the order every list of keys uses; RETURNING has no order of its own. */
export function newestFirst(a: { createdAt: number; id: string }, b: { createdAt: number; id: string }): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

import type { AuditFilter, KeyCursor, KeyFilter, KeyLogFilter, KeyStatus } from "../../keys/model.js";
import { DAY_MS } from "../../keys/status.js";

/**
 * Filters as SQL. Each builder returns a WHERE clause whose text depends only
 * on which filters are present (never on their values), so the store can
 * prepare each shape once and reuse it, plus the named parameters to bind.
 */
export interface WhereClause {
  sql: string;
  params: Record<string, string | number>;
}

function where(conditions: string[]): string {
  return conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
}

// The status rule of deriveStatus (keys/status.ts), as SQL over `keys` columns.
// @now and @inactiveBefore (= now - inactiveDays days) must be bound.
const REVOKED = "(revoked_at IS NOT NULL AND revoked_at <= @now)";
const EXPIRED = "(expires_at IS NOT NULL AND expires_at <= @now)";
export const NOT_REVOKED = "(revoked_at IS NULL OR revoked_at > @now)";
export const NOT_EXPIRED = "(expires_at IS NULL OR expires_at > @now)";
const IDLE = "coalesce(last_used_at, created_at) <= @inactiveBefore";

const STATUS_SQL: Record<KeyStatus, string> = {
  revoked: REVOKED,
  expired: `${NOT_REVOKED} AND ${EXPIRED}`,
  disabled: `${NOT_REVOKED} AND ${NOT_EXPIRED} AND enabled = 0`,
  inactive: `${NOT_REVOKED} AND ${NOT_EXPIRED} AND enabled = 1 AND ${IDLE}`,
  active: `${NOT_REVOKED} AND ${NOT_EXPIRED} AND enabled = 1 AND NOT (${IDLE})`,
};

/** The WHERE clause of ListKeys/CountKeys; `after` adds the keyset cursor. */
export function keyWhere(filter: KeyFilter, now: number, inactiveDays: number, after?: KeyCursor): WhereClause {
  const conditions: string[] = [];
  const params: Record<string, string | number> = {};
  if (filter.status !== undefined) {
    conditions.push(`(${STATUS_SQL[filter.status]})`);
    params.now = now;
    params.inactiveBefore = now - inactiveDays * DAY_MS;
  }
  if (filter.permission !== undefined) {
    conditions.push("permission = @permission");
    params.permission = filter.permission;
  }
  if (filter.subject !== undefined) {
    conditions.push("subject = @subject");
    params.subject = filter.subject;
  }
  if (filter.domainId !== undefined) {
    conditions.push("domain_id = @domainId");
    params.domainId = filter.domainId;
  }
  if (filter.nameContains !== undefined) {
    // instr, not LIKE: `%` and `_` in the search text are plain characters.
    conditions.push("instr(unicode_lower(name), @nameContains) > 0");
    params.nameContains = filter.nameContains.toLowerCase();
  }
  if (filter.scope !== undefined) {
    conditions.push("EXISTS (SELECT 1 FROM json_each(keys.scopes) WHERE value = @scope)");
    params.scope = filter.scope;
  }
  if (after !== undefined) {
    conditions.push("(created_at, id) < (@afterCreatedAt, @afterId)");
    params.afterCreatedAt = after.createdAt;
    params.afterId = after.id;
  }
  return { sql: where(conditions), params };
}

/** The WHERE clause over `key_logs`; keyId is optional for exports. */
export function logWhere(filter: KeyLogFilter & { keyId?: string }, beforeId?: number): WhereClause {
  const conditions: string[] = [];
  const params: Record<string, string | number> = {};
  if (filter.keyId !== undefined) {
    conditions.push("key_id = @keyId");
    params.keyId = filter.keyId;
  }
  if (filter.code !== undefined) {
    conditions.push("code = @code");
    params.code = filter.code;
  }
  if (filter.from !== undefined) {
    conditions.push("at >= @from");
    params.from = filter.from;
  }
  if (filter.to !== undefined) {
    conditions.push("at < @to");
    params.to = filter.to;
  }
  if (beforeId !== undefined) {
    conditions.push("id < @beforeId");
    params.beforeId = beforeId;
  }
  return { sql: where(conditions), params };
}

/** The WHERE clause over `audit_events`. */
export function auditWhere(filter: AuditFilter, beforeId?: number): WhereClause {
  const conditions: string[] = [];
  const params: Record<string, string | number> = {};
  if (filter.keyId !== undefined) {
    conditions.push("key_id = @keyId");
    params.keyId = filter.keyId;
  }
  if (filter.actor !== undefined) {
    conditions.push("actor = @actor");
    params.actor = filter.actor;
  }
  if (filter.action !== undefined) {
    conditions.push("action = @action");
    params.action = filter.action;
  }
  if (filter.from !== undefined) {
    conditions.push("at >= @from");
    params.from = filter.from;
  }
  if (filter.to !== undefined) {
    conditions.push("at < @to");
    params.to = filter.to;
  }
  if (beforeId !== undefined) {
    conditions.push("id < @beforeId");
    params.beforeId = beforeId;
  }
  return { sql: where(conditions), params };
}

/** The WHERE clause of ListExports. */
export function exportWhere(state: string | undefined, after?: KeyCursor): WhereClause {
  const conditions: string[] = [];
  const params: Record<string, string | number> = {};
  if (state !== undefined) {
    conditions.push("state = @state");
    params.state = state;
  }
  if (after !== undefined) {
    conditions.push("(created_at, id) < (@afterCreatedAt, @afterId)");
    params.afterCreatedAt = after.createdAt;
    params.afterId = after.id;
  }
  return { sql: where(conditions), params };
}

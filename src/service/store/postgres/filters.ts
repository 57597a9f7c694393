import type { AuditFilter, KeyCursor, KeyFilter, KeyLogFilter, KeyStatus } from "../../keys/model.js";
import { DAY_MS } from "../../keys/status.js";

/**
 * Filters as SQL with positional parameters: each builder appends its values
 * to `params` and returns the WHERE clause (empty when nothing is filtered).
 * The same rules as sqlite/filters.ts.
 */
export class Params {
  readonly values: unknown[] = [];

  /** Binds `value` and returns its placeholder, e.g. `$3`. */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

function where(conditions: string[]): string {
  return conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
}

// The status rule of deriveStatus (keys/status.ts), as SQL over `keys` columns.
const notRevoked = (now: string) => `(revoked_at IS NULL OR revoked_at > ${now})`;
const notExpired = (now: string) => `(expires_at IS NULL OR expires_at > ${now})`;
const idle = (before: string) => `coalesce(last_used_at, created_at) <= ${before}`;

export const NOT_REVOKED = notRevoked;
export const NOT_EXPIRED = notExpired;

/** `before` binds the inactivity cutoff: only the statuses that use it may bind it (an unused parameter is an error). */
function statusSql(status: KeyStatus, now: string, before: () => string): string {
  switch (status) {
    case "revoked":
      return `(revoked_at IS NOT NULL AND revoked_at <= ${now})`;
    case "expired":
      return `${notRevoked(now)} AND (expires_at IS NOT NULL AND expires_at <= ${now})`;
    case "disabled":
      return `${notRevoked(now)} AND ${notExpired(now)} AND NOT enabled`;
    case "inactive":
      return `${notRevoked(now)} AND ${notExpired(now)} AND enabled AND ${idle(before())}`;
    case "active":
      return `${notRevoked(now)} AND ${notExpired(now)} AND enabled AND NOT (${idle(before())})`;
  }
}

/** The WHERE clause of ListKeys/CountKeys; `after` adds the keyset cursor. */
export function keyWhere(
  filter: KeyFilter,
  now: number,
  inactiveDays: number,
  params: Params,
  after?: KeyCursor,
): string {
  const conditions: string[] = [];
  if (filter.status !== undefined) {
    const at = `${params.add(now)}::bigint`;
    const before = () => `${params.add(now - inactiveDays * DAY_MS)}::bigint`;
    conditions.push(`(${statusSql(filter.status, at, before)})`);
  }
  if (filter.permission !== undefined) conditions.push(`permission = ${params.add(filter.permission)}`);
  if (filter.subject !== undefined) conditions.push(`subject = ${params.add(filter.subject)}`);
  if (filter.domainId !== undefined) conditions.push(`domain_id = ${params.add(filter.domainId)}`);
  if (filter.nameContains !== undefined) {
    // strpos, not LIKE: `%` and `_` in the search text are plain characters.
    // ICU's root locale folds case as JavaScript's toLowerCase does, whatever
    // the database's own locale.
    conditions.push(`strpos(lower(name COLLATE "und-x-icu"), ${params.add(filter.nameContains.toLowerCase())}) > 0`);
  }
  if (filter.scope !== undefined) conditions.push(`scopes @> jsonb_build_array(${params.add(filter.scope)}::text)`);
  if (after !== undefined) {
    conditions.push(`(created_at, id) < (${params.add(after.createdAt)}::bigint, ${params.add(after.id)}::text)`);
  }
  return where(conditions);
}

/** The WHERE clause over `key_logs`; keyId is optional for exports. */
export function logWhere(filter: KeyLogFilter & { keyId?: string }, params: Params, beforeId?: number): string {
  const conditions: string[] = [];
  if (filter.keyId !== undefined) conditions.push(`key_id = ${params.add(filter.keyId)}`);
  if (filter.code !== undefined) conditions.push(`code = ${params.add(filter.code)}`);
  if (filter.from !== undefined) conditions.push(`at >= ${params.add(filter.from)}::bigint`);
  if (filter.to !== undefined) conditions.push(`at < ${params.add(filter.to)}::bigint`);
  if (beforeId !== undefined) conditions.push(`id < ${params.add(beforeId)}::bigint`);
  return where(conditions);
}

/** The WHERE clause over `audit_events`. */
export function auditWhere(filter: AuditFilter, params: Params, beforeId?: number): string {
  const conditions: string[] = [];
  if (filter.keyId !== undefined) conditions.push(`key_id = ${params.add(filter.keyId)}`);
  if (filter.actor !== undefined) conditions.push(`actor = ${params.add(filter.actor)}`);
  if (filter.action !== undefined) conditions.push(`action = ${params.add(filter.action)}`);
  if (filter.from !== undefined) conditions.push(`at >= ${params.add(filter.from)}::bigint`);
  if (filter.to !== undefined) conditions.push(`at < ${params.add(filter.to)}::bigint`);
  if (beforeId !== undefined) conditions.push(`id < ${params.add(beforeId)}::bigint`);
  return where(conditions);
}

/** The WHERE clause of ListExports. */
export function exportWhere(state: string | undefined, params: Params, after?: KeyCursor): string {
  const conditions: string[] = [];
  if (state !== undefined) conditions.push(`state = ${params.add(state)}`);
  if (after !== undefined) {
    conditions.push(`(created_at, id) < (${params.add(after.createdAt)}::bigint, ${params.add(after.id)}::text)`);
  }
  return where(conditions);
}

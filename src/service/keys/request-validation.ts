import { isIP } from "node:net";
import { ValidationError } from "./errors.js";
import type { VerifyInput } from "./inputs.js";
import type { KeyFilter, KeyStatus } from "./model.js";
import { validateIdentifier, validatePermission } from "./validation.js";

const STATUSES: readonly KeyStatus[] = ["active", "inactive", "expired", "revoked", "disabled"];
const MAX_COST = 1_000_000_000;

/** Checks list/count/export filters; returns only the filters that are set. */
export function validateFilter(input: KeyFilter): KeyFilter {
  const filter: KeyFilter = {};
  if (input.status !== undefined) {
    if (!STATUSES.includes(input.status)) throw new ValidationError("status", "is not a key status");
    filter.status = input.status;
  }
  if (input.permission !== undefined) filter.permission = validatePermission(input.permission);
  const subject = validateIdentifier(input.subject, "subject");
  if (subject !== null) filter.subject = subject;
  const domain = validateIdentifier(input.domainId, "domain_id");
  if (domain !== null) filter.domainId = domain;
  if (input.nameContains) {
    if (input.nameContains.length > 100) throw new ValidationError("name_contains", "must be at most 100 characters");
    filter.nameContains = input.nameContains;
  }
  if (input.scope) {
    if (!/^[a-z0-9_.:*-]{1,64}$/.test(input.scope)) {
      throw new ValidationError("scope", "must be 1-64 characters of [a-z0-9_.:*-]");
    }
    filter.scope = input.scope;
  }
  return filter;
}

function short(value: string, max: number, field: string): void {
  if (value.length > max) throw new ValidationError(field, `must be at most ${max} characters`);
}

/**
 * Checks what a verifying service sent besides the token (a bad token is a
 * MALFORMED answer, not an error). Returns the cost. Kept cheap: it runs on
 * every verification.
 */
export function validateVerifyInput(input: VerifyInput): number {
  const cost = input.cost ?? 1;
  if (!Number.isSafeInteger(cost) || cost < 0 || cost > MAX_COST) {
    throw new ValidationError("cost", `must be 0-${MAX_COST}`);
  }
  if (input.domainId !== undefined && input.domainId.length > 128) {
    throw new ValidationError("domain_id", "must be at most 128 characters");
  }
  const scopes = input.requiredScopes;
  if (scopes !== undefined && scopes.length > 0) {
    if (scopes.length > 50) throw new ValidationError("required_scopes", "must hold at most 50 scopes");
    for (let i = 0; i < scopes.length; i++) short(scopes[i] as string, 64, `required_scopes[${i}]`);
  }
  if (input.ratelimits !== undefined && input.ratelimits.length > 10) {
    throw new ValidationError("ratelimits", "must name at most 10 limits");
  }
  const context = input.context;
  if (context !== undefined) {
    if (context.ip !== "") {
      short(context.ip, 64, "context.ip");
      if (isIP(context.ip) === 0) throw new ValidationError("context.ip", "must be an IPv4 or IPv6 address");
    }
    short(context.method, 16, "context.method");
    short(context.path, 1024, "context.path");
    short(context.userAgent, 512, "context.user_agent");
    const tags = Object.keys(context.tags);
    if (tags.length > 10) throw new ValidationError("context.tags", "must hold at most 10 tags");
    for (const tag of tags) {
      short(tag, 64, "context.tags");
      short(context.tags[tag] as string, 256, `context.tags[${tag.slice(0, 64)}]`);
    }
  }
  return cost;
}

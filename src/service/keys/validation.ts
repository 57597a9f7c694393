import { normalizeCidr } from "../../shared/cidr.js";
import { ValidationError } from "./errors.js";
import type { JsonObject, Permission, RateLimitRule, RefillRule } from "./model.js";

/**
 * Field rules shared by create, update and rotate. Each check throws a
 * ValidationError naming the proto field, so every transport reports it the
 * same way.
 */

const SCOPE = /^[a-z0-9_.:*-]{1,64}$/;
const IDENTIFIER = /^[A-Za-z0-9_.:@|-]{1,128}$/;
const RATELIMIT_NAME = /^[a-z0-9_.:-]{1,32}$/;
export const MAX_SCOPES = 50;
export const MAX_CIDRS = 100;
export const MAX_RATELIMITS = 10;
export const MAX_CLAIMS_BYTES = 4096;
export const MAX_EXPIRES_IN_SECONDS = 315_360_000; // ten years
export const MAX_CREDITS = 1_000_000_000_000_000;
const PERMISSIONS: readonly Permission[] = ["full_access", "sending_access"];

function length(text: string): number {
  return [...text].length;
}

export function validateName(name: string | undefined, field = "name"): string {
  const trimmed = (name ?? "").trim();
  if (length(trimmed) < 1 || length(trimmed) > 100) {
    throw new ValidationError(field, "must be 1-100 characters after trimming");
  }
  return trimmed;
}

export function validateDescription(description: string | undefined): string {
  const value = description ?? "";
  if (length(value) > 1000) throw new ValidationError("description", "must be at most 1,000 characters");
  return value;
}

export function validatePermission(permission: string | undefined): Permission {
  if (permission === undefined) return "full_access";
  if (!PERMISSIONS.includes(permission as Permission)) {
    throw new ValidationError("permission", "must be full_access or sending_access");
  }
  return permission as Permission;
}

/** Empty means "no value". */
export function validateIdentifier(value: string | undefined, field: string): string | null {
  if (value === undefined || value === "") return null;
  if (!IDENTIFIER.test(value)) {
    throw new ValidationError(field, "must be 1-128 characters of letters, digits and _ . : @ | -");
  }
  return value;
}

export function validateDomain(domainId: string | null, permission: Permission): string | null {
  if (domainId !== null && permission !== "sending_access") {
    throw new ValidationError("domain_id", "is only allowed with sending access");
  }
  return domainId;
}

export function validateScopes(scopes: readonly string[] | undefined, field = "scopes"): string[] {
  const list = scopes ?? [];
  if (list.length > MAX_SCOPES) throw new ValidationError(field, `must hold at most ${MAX_SCOPES} scopes`);
  list.forEach((scope, i) => {
    if (!SCOPE.test(scope)) throw new ValidationError(`${field}[${i}]`, "must be 1-64 characters of [a-z0-9_.:*-]");
  });
  return [...new Set(list)];
}

export function validateClaims(claims: JsonObject | undefined | null): JsonObject | null {
  if (claims === undefined || claims === null) return null;
  if (typeof claims !== "object" || Array.isArray(claims)) {
    throw new ValidationError("claims", "must be a JSON object");
  }
  const size = Buffer.byteLength(JSON.stringify(claims), "utf8");
  if (size > MAX_CLAIMS_BYTES) {
    throw new ValidationError("claims", `must be at most ${MAX_CLAIMS_BYTES} bytes serialised (is ${size})`);
  }
  return Object.keys(claims).length === 0 ? null : claims;
}

export function validateExpiresIn(seconds: number | undefined): number | undefined {
  if (seconds === undefined) return undefined;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_EXPIRES_IN_SECONDS) {
    throw new ValidationError("expires_in_seconds", `must be 1-${MAX_EXPIRES_IN_SECONDS} seconds`);
  }
  return seconds;
}

export function validateCidrs(cidrs: readonly string[] | undefined): string[] {
  const list = cidrs ?? [];
  if (list.length > MAX_CIDRS) throw new ValidationError("allowed_cidrs", `must hold at most ${MAX_CIDRS} entries`);
  const out = list.map((cidr, i) => {
    const normal = normalizeCidr(cidr);
    if (normal === null) throw new ValidationError(`allowed_cidrs[${i}]`, "must be an IPv4 or IPv6 address or CIDR");
    return normal;
  });
  return [...new Set(out)];
}

export function validateRatelimits(rules: readonly RateLimitRule[] | undefined): RateLimitRule[] {
  const list = rules ?? [];
  if (list.length > MAX_RATELIMITS) {
    throw new ValidationError("ratelimits", `must hold at most ${MAX_RATELIMITS} limits`);
  }
  const names = new Set<string>();
  return list.map((rule, i) => {
    if (!RATELIMIT_NAME.test(rule.name)) {
      throw new ValidationError(`ratelimits[${i}].name`, "must be 1-32 characters of [a-z0-9_.:-]");
    }
    if (names.has(rule.name)) throw new ValidationError(`ratelimits[${i}].name`, "is used twice");
    names.add(rule.name);
    if (!Number.isInteger(rule.limit) || rule.limit < 1 || rule.limit > 1_000_000_000) {
      throw new ValidationError(`ratelimits[${i}].limit`, "must be 1-1,000,000,000");
    }
    if (!Number.isInteger(rule.durationSeconds) || rule.durationSeconds < 1 || rule.durationSeconds > 86_400) {
      throw new ValidationError(`ratelimits[${i}].duration_seconds`, "must be 1-86,400");
    }
    return { name: rule.name, limit: rule.limit, durationSeconds: rule.durationSeconds };
  });
}

export function validateRemaining(remaining: number | undefined): number | null {
  if (remaining === undefined) return null;
  if (!Number.isSafeInteger(remaining) || remaining < 0 || remaining > MAX_CREDITS) {
    throw new ValidationError("remaining", "must be a whole number from 0 to 10^15");
  }
  return remaining;
}

export function validateRefill(refill: Omit<RefillRule, "lastRefillAt"> | undefined, now: number): RefillRule | null {
  if (refill === undefined) return null;
  if (refill.interval !== "daily" && refill.interval !== "monthly") {
    throw new ValidationError("refill.interval", "must be daily or monthly");
  }
  if (!Number.isSafeInteger(refill.amount) || refill.amount < 1 || refill.amount > MAX_CREDITS) {
    throw new ValidationError("refill.amount", "must be a whole number from 1 to 10^15");
  }
  const day = refill.dayOfMonth === 0 ? 1 : refill.dayOfMonth;
  if (!Number.isInteger(day) || day < 1 || day > 31) {
    throw new ValidationError("refill.day_of_month", "must be 1-31");
  }
  if (refill.interval === "daily" && refill.dayOfMonth > 1) {
    throw new ValidationError("refill.day_of_month", "is only for monthly refills");
  }
  return { interval: refill.interval, amount: refill.amount, dayOfMonth: day, lastRefillAt: now };
}

export function validateReason(reason: string | undefined): string | null {
  const value = (reason ?? "").trim();
  if (length(value) > 500) throw new ValidationError("reason", "must be at most 500 characters");
  return value === "" ? null : value;
}

export function validateId(id: string | undefined, field = "id"): string {
  if (!id) throw new ValidationError(field, "is required");
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
    throw new ValidationError(field, "must be an id (a UUID)");
  }
  return id.toLowerCase();
}

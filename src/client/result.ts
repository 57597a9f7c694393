import type { JsonObject } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Permission } from "../gen/keyward/v1/key_pb.js";
import { VerifyCode, type VerifyKeyResponse } from "../gen/keyward/v1/verify_pb.js";

/** Why a key failed, as VerifyKey names it (keyward.v1.VerifyCode without its prefix). */
export type KeyFailureCode =
  | "MALFORMED"
  | "NOT_FOUND"
  | "REVOKED"
  | "EXPIRED"
  | "DISABLED"
  | "IP_NOT_ALLOWED"
  | "INSUFFICIENT_PERMISSION"
  | "DOMAIN_MISMATCH"
  | "MISSING_SCOPES"
  | "RATE_LIMITED"
  | "USAGE_EXCEEDED"
  /** A code newer than this client; never valid. */
  | "UNKNOWN";

/**
 * Every `code` a verification can end with: VALID, a key failure, UNAVAILABLE
 * (no replica answered within the deadline) or ERROR (the service refused the
 * call itself: a wrong service token, an invalid request).
 */
export type VerifyResultCode = "VALID" | KeyFailureCode | "UNAVAILABLE" | "ERROR";

export type KeyPermission = "FULL_ACCESS" | "SENDING_ACCESS";

/** The part of a key a verifying service needs (keyward.v1.VerifiedKey). */
export interface KeywardKey {
  id: string;
  name: string;
  permission: KeyPermission;
  /** Only for sending-access keys restricted to a domain. */
  domainId?: string;
  /** The owner, e.g. user_123 or org_456. */
  subject?: string;
  scopes: string[];
  /** The key's claims (JSON), `{}` when it has none. */
  claims: JsonObject;
  expireTime?: Date;
}

/** The state of one rate limit after this request: the tripped one when RATE_LIMITED, else the tightest applied. */
export interface RateLimitInfo {
  name: string;
  limit: number;
  remaining: number;
  /** When the window frees room again. */
  reset: Date;
}

interface Answered {
  /** The service answered: the outcome is its word. */
  checked: true;
  ratelimit?: RateLimitInfo;
  /** Credits left, when the key has a credit balance. */
  remaining?: number;
}

/** The key is good for this request. */
export interface ValidResult extends Answered {
  valid: true;
  code: "VALID";
  key: KeywardKey;
}

/** The key is not good for this request; `key` is there whenever the key was found. */
export interface InvalidResult extends Answered {
  valid: false;
  code: KeyFailureCode;
  key?: KeywardKey;
}

/**
 * No replica answered within the deadline. `valid` is what `onUnavailable`
 * says: true for "allow" (the key was NOT checked), false for "deny".
 */
export interface UnavailableResult {
  valid: boolean;
  code: "UNAVAILABLE";
  checked: false;
  /** No key: nothing was checked (so `result.key` reads as undefined on every result). */
  key?: undefined;
  /** What went wrong, for logs (e.g. "deadline exceeded after 250 ms"). */
  reason: string;
}

/**
 * The service refused the call itself (gRPC status other than UNAVAILABLE):
 * a missing or wrong service token, a request it finds invalid. Never valid,
 * whatever `onUnavailable` says: this is a configuration error to fix.
 */
export interface ErrorResult {
  valid: false;
  code: "ERROR";
  checked: false;
  key?: undefined;
  reason: string;
  /** The gRPC status code, when the service sent one. */
  grpcCode?: number;
}

export type VerifyResult = ValidResult | InvalidResult | UnavailableResult | ErrorResult;

/** What a middleware puts on a request it let through: a valid key, or (onUnavailable "allow") an unchecked pass. */
export type PassedVerification = ValidResult | (UnavailableResult & { valid: true });

const FAILURES: Record<number, KeyFailureCode> = {
  [VerifyCode.MALFORMED]: "MALFORMED",
  [VerifyCode.NOT_FOUND]: "NOT_FOUND",
  [VerifyCode.REVOKED]: "REVOKED",
  [VerifyCode.EXPIRED]: "EXPIRED",
  [VerifyCode.DISABLED]: "DISABLED",
  [VerifyCode.IP_NOT_ALLOWED]: "IP_NOT_ALLOWED",
  [VerifyCode.INSUFFICIENT_PERMISSION]: "INSUFFICIENT_PERMISSION",
  [VerifyCode.DOMAIN_MISMATCH]: "DOMAIN_MISMATCH",
  [VerifyCode.MISSING_SCOPES]: "MISSING_SCOPES",
  [VerifyCode.RATE_LIMITED]: "RATE_LIMITED",
  [VerifyCode.USAGE_EXCEEDED]: "USAGE_EXCEEDED",
};

function keyOf(key: NonNullable<VerifyKeyResponse["key"]>): KeywardKey {
  const out: KeywardKey = {
    id: key.id,
    name: key.name,
    permission: key.permission === Permission.SENDING_ACCESS ? "SENDING_ACCESS" : "FULL_ACCESS",
    scopes: key.scopes,
    claims: key.claims ?? {},
  };
  if (key.domainId !== "") out.domainId = key.domainId;
  if (key.subject !== "") out.subject = key.subject;
  if (key.expireTime !== undefined) out.expireTime = timestampDate(key.expireTime);
  return out;
}

/** The typed result of a VerifyKey answer. */
export function resultOf(response: VerifyKeyResponse): VerifyResult {
  const answered: Answered = { checked: true };
  const limit = response.ratelimit;
  if (limit !== undefined) {
    answered.ratelimit = {
      name: limit.name,
      limit: limit.limit,
      remaining: Number(limit.remaining),
      reset: limit.resetTime === undefined ? new Date(0) : timestampDate(limit.resetTime),
    };
  }
  if (response.remaining !== undefined) answered.remaining = Number(response.remaining);
  if (response.code === VerifyCode.VALID && response.valid) {
    if (response.key === undefined) {
      return { valid: false, code: "ERROR", checked: false, reason: "the service answered VALID without a key" };
    }
    return { ...answered, valid: true, code: "VALID", key: keyOf(response.key) };
  }
  const invalid: InvalidResult = { ...answered, valid: false, code: FAILURES[response.code] ?? "UNKNOWN" };
  if (response.key !== undefined) invalid.key = keyOf(response.key);
  return invalid;
}

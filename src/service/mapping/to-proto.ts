/**
 * Domain results to proto messages (as init shapes: the transport creates the
 * message once). Times become Timestamps, counts int64 bigints, nulls unset
 * fields or empty strings, enums their proto numbers.
 */

import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { AuditEventSchema } from "../../gen/keyward/v1/audit_pb.js";
import type { ExportSchema } from "../../gen/keyward/v1/export_pb.js";
import type { KeySchema } from "../../gen/keyward/v1/key_pb.js";
import type { GetKeyUsageResponseSchema, RunSweepResponseSchema } from "../../gen/keyward/v1/key_service_pb.js";
import type { KeyLogSchema } from "../../gen/keyward/v1/usage_pb.js";
import type { VerifiedKeySchema, VerifyKeyResponseSchema } from "../../gen/keyward/v1/verify_pb.js";
import type { KeyView, SweepOutcome, VerifyResult } from "../keys/api.js";
import { etagOf } from "../keys/etag.js";
import type { UsageBucketOut } from "../keys/inputs.js";
import type { AuditRow, ExportRecord, KeyLogRow, VerifiableKey } from "../keys/model.js";
import {
  exportMailStates,
  exportResources,
  exportStates,
  keyStatuses,
  permissions,
  refillIntervals,
  verifyCodes,
} from "./enums.js";
import { timestampFromNullableMs } from "./timestamps.js";

type Init<T extends DescMessage> = MessageInitShape<T>;

export function keyToProto(view: KeyView): Init<typeof KeySchema> {
  const key = view.record;
  return {
    id: key.id,
    name: key.name,
    description: key.description,
    permission: permissions.toProto(key.permission),
    domainId: key.domainId ?? "",
    subject: key.subject ?? "",
    scopes: key.scopes,
    claims: key.claims ?? undefined,
    createdBy: key.createdBy,
    expireTime: timestampFromNullableMs(key.expiresAt),
    enabled: key.enabled,
    allowedCidrs: key.allowedCidrs,
    createTime: timestampFromMs(key.createdAt),
    updateTime: timestampFromMs(key.updatedAt),
    revokeTime: timestampFromNullableMs(key.revokedAt),
    lastUsedTime: timestampFromNullableMs(key.lastUsedAt),
    revocationReason: key.revocationReason ?? "",
    requestCount: BigInt(key.requestCount),
    tokenHint: key.tokenHint,
    status: keyStatuses.toProto(view.status),
    rotatedFromId: key.rotatedFromId ?? "",
    rotatedToId: key.rotatedToId ?? "",
    ratelimits: key.ratelimits.map((limit) => ({
      name: limit.name,
      limit: limit.limit,
      durationSeconds: limit.durationSeconds,
    })),
    remaining: key.remaining === null ? undefined : BigInt(key.remaining),
    refill:
      key.refill === null
        ? undefined
        : {
            interval: refillIntervals.toProto(key.refill.interval),
            amount: BigInt(key.refill.amount),
            dayOfMonth: key.refill.dayOfMonth,
            lastRefillTime: timestampFromNullableMs(key.refill.lastRefillAt),
          },
    etag: etagOf(key),
    creditsLowThreshold: key.creditsLowThreshold === null ? undefined : BigInt(key.creditsLowThreshold),
  };
}

/** The hot path's answer: a verification failure is data, not an error. */
export function verifyResponse(result: VerifyResult): Init<typeof VerifyKeyResponseSchema> {
  const { key, ratelimit, remaining } = result;
  return {
    valid: result.valid,
    code: verifyCodes.toProto(result.code),
    key: key === undefined ? undefined : verifiedKey(key),
    ratelimit:
      ratelimit === undefined
        ? undefined
        : {
            name: ratelimit.name,
            limit: ratelimit.limit,
            remaining: BigInt(ratelimit.remaining),
            resetTime: timestampFromMs(ratelimit.resetAt),
          },
    remaining: remaining === undefined ? undefined : BigInt(remaining),
  };
}

// Records are immutable (every write makes a new one), so one view per record
// is enough; the same object lets the transport cache its encoding.
const verifiedKeys = new WeakMap<VerifiableKey, Init<typeof VerifiedKeySchema>>();

function verifiedKey(key: VerifiableKey): Init<typeof VerifiedKeySchema> {
  let view = verifiedKeys.get(key);
  if (view === undefined) {
    view = buildVerifiedKey(key);
    verifiedKeys.set(key, view);
  }
  return view;
}

function buildVerifiedKey(key: VerifiableKey): Init<typeof VerifiedKeySchema> {
  return {
    id: key.id,
    name: key.name,
    permission: permissions.toProto(key.permission),
    domainId: key.domainId ?? "",
    subject: key.subject ?? "",
    scopes: key.scopes,
    claims: key.claims ?? undefined,
    expireTime: timestampFromNullableMs(key.expiresAt),
  };
}

export function usageToProto(usage: {
  buckets: UsageBucketOut[];
  total: number;
}): Init<typeof GetKeyUsageResponseSchema> {
  return {
    buckets: usage.buckets.map((bucket) => ({
      startTime: timestampFromMs(bucket.start),
      total: BigInt(bucket.total),
      outcomes: bucket.outcomes.map((o) => ({ code: verifyCodes.toProto(o.code), count: BigInt(o.count) })),
    })),
    total: BigInt(usage.total),
  };
}

export function keyLogToProto(row: KeyLogRow): Init<typeof KeyLogSchema> {
  return {
    id: String(row.id),
    keyId: row.keyId,
    time: timestampFromMs(row.at),
    code: verifyCodes.toProto(row.code),
    ip: row.context?.ip ?? "",
    method: row.context?.method ?? "",
    path: row.context?.path ?? "",
    userAgent: row.context?.userAgent ?? "",
    tags: row.context?.tags ?? {},
  };
}

export function auditEventToProto(row: AuditRow): Init<typeof AuditEventSchema> {
  return {
    id: String(row.id),
    time: timestampFromMs(row.at),
    actor: row.actor,
    actorKeyId: row.actorKeyId ?? "",
    action: row.action,
    keyId: row.keyId ?? "",
    summary: row.summary,
    changedFields: row.changedFields,
    exportId: row.exportId ?? "",
  };
}

export function exportToProto(record: ExportRecord): Init<typeof ExportSchema> {
  const f = record.filters;
  return {
    id: record.id,
    resource: exportResources.toProto(record.resource),
    filters: {
      status: f.status === undefined ? 0 : keyStatuses.toProto(f.status),
      permission: f.permission === undefined ? 0 : permissions.toProto(f.permission),
      subject: f.subject ?? "",
      domainId: f.domainId ?? "",
      nameContains: f.nameContains ?? "",
      keyId: f.keyId ?? "",
      code: f.code === undefined ? 0 : verifyCodes.toProto(f.code),
      fromTime: timestampFromNullableMs(f.from),
      toTime: timestampFromNullableMs(f.to),
    },
    state: exportStates.toProto(record.state),
    requestedBy: record.requestedBy,
    createTime: timestampFromMs(record.createdAt),
    updateTime: timestampFromMs(record.updatedAt),
    expireTime: timestampFromMs(record.expiresAt),
    matchingRows: BigInt(record.matchingRows),
    rowCount: BigInt(record.rowCount),
    byteSize: BigInt(record.byteSize),
    error: record.error ?? "",
    attempts: record.attempts,
    mailState: record.mailState === null ? 0 : exportMailStates.toProto(record.mailState),
    mailError: record.mailError ?? "",
    mailTime: timestampFromNullableMs(record.mailAt),
  };
}

export function sweepToProto(outcome: SweepOutcome): Init<typeof RunSweepResponseSchema> {
  return {
    newlyInactive: outcome.newlyInactive.map(keyToProto),
    autoRevoked: outcome.autoRevoked.map(keyToProto),
    expiredKeys: BigInt(outcome.expiredKeys),
    expiredExports: outcome.expiredExports.map(exportToProto),
    prunedLogs: BigInt(outcome.prunedLogs),
    rotationDue: outcome.rotationDue.map(keyToProto),
    sweepTime: timestampFromMs(outcome.at),
    expiringSoon: outcome.expiringSoon.map(keyToProto),
    creditsLow: outcome.creditsLow.map(keyToProto),
    expired: outcome.expired.map(keyToProto),
  };
}

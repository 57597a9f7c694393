/**
 * Requests to domain inputs. Only what the wire allows and the contract does
 * not is rejected here (unknown enum numbers, bad timestamps, unknown mask
 * paths, negative sizes, int64 beyond a number, claims JSON cannot hold);
 * business rules (lengths, scope syntax, CIDRs, ranges) are the domain's, so
 * every transport gets the same ones. Errors name the proto field.
 */

import type { ExportFilters as ProtoExportFilters } from "../../gen/keyward/v1/export_pb.js";
import type { RateLimit, Refill } from "../../gen/keyward/v1/key_pb.js";
import type {
  CountKeysRequest,
  CreateExportRequest,
  CreateKeyRequest,
  GetKeyUsageRequest,
  ListAuditEventsRequest,
  ListExportsRequest,
  ListKeyLogsRequest,
  ListKeysRequest,
  RunSweepRequest,
  StreamExportRowsRequest,
  UpdateExportRequest,
  UpdateKeyRequest,
} from "../../gen/keyward/v1/key_service_pb.js";
import type { VerifyContext as ProtoVerifyContext, VerifyKeyRequest } from "../../gen/keyward/v1/verify_pb.js";
import { ValidationError } from "../keys/errors.js";
import {
  type CreateExportInput,
  type CreateKeyInput,
  type ListAuditInput,
  type ListKeyLogsInput,
  type ListKeysInput,
  type PageRequest,
  type SweepInput,
  UPDATABLE_FIELDS,
  type UpdatableField,
  type UpdateExportInput,
  type UpdateKeyInput,
  type UsageInput,
  type VerifyInput,
} from "../keys/inputs.js";
import type { ExportFilters, ExportState, KeyFilter, RateLimitRule, RefillRule, VerifyContext } from "../keys/model.js";
import { claimsFromProto } from "./claims.js";
import {
  exportMailStates,
  exportResources,
  exportStates,
  granularities,
  keyStatuses,
  permissions,
  refillIntervals,
  verifyCodes,
} from "./enums.js";
import { numberFromInt64, optionalString, pageSizeFromProto } from "./numbers.js";
import { msFromTimestamp } from "./timestamps.js";

export function createKeyInput(req: CreateKeyRequest): CreateKeyInput {
  return {
    name: req.name,
    description: optionalString(req.description),
    permission: permissions.fromProto(req.permission, "permission"),
    domainId: optionalString(req.domainId),
    subject: optionalString(req.subject),
    scopes: req.scopes,
    claims: claimsFromProto(req.claims, "claims"),
    expiresInSeconds: req.expiresInSeconds,
    enabled: req.enabled,
    allowedCidrs: req.allowedCidrs,
    ratelimits: rateLimitsFromProto(req.ratelimits),
    remaining: req.remaining === undefined ? undefined : numberFromInt64(req.remaining, "remaining"),
    refill: refillFromProto(req.refill, "refill"),
    creditsLowThreshold:
      req.creditsLowThreshold === undefined
        ? undefined
        : numberFromInt64(req.creditsLowThreshold, "credits_low_threshold"),
  };
}

/** The filters ListKeys and CountKeys share. */
export function keyFilter(req: CountKeysRequest | ListKeysRequest): KeyFilter {
  return {
    status: keyStatuses.fromProto(req.status, "status"),
    permission: permissions.fromProto(req.permission, "permission"),
    subject: optionalString(req.subject),
    domainId: optionalString(req.domainId),
    nameContains: optionalString(req.nameContains),
    scope: optionalString(req.scope),
  };
}

export function listKeysInput(req: ListKeysRequest): ListKeysInput {
  return { ...pageRequest(req), ...keyFilter(req) };
}

const UPDATABLE: ReadonlySet<string> = new Set(UPDATABLE_FIELDS);
const UPDATABLE_LIST = UPDATABLE_FIELDS.join(", ");

/**
 * Only the fields the mask names are read; the others keep their values
 * whatever the request carries, as FieldMask semantics say. A named field left
 * unset clears it where clearing means something (domain, claims, expiry,
 * remaining, refill); an unset permission means full access, as at creation.
 */
export function updateKeyInput(req: UpdateKeyRequest): UpdateKeyInput {
  const paths = req.updateMask?.paths ?? [];
  if (paths.length === 0) throw new ValidationError("update_mask", "must name at least one field");
  const seen = new Set<string>();
  paths.forEach((path, i) => {
    if (!UPDATABLE.has(path)) {
      throw new ValidationError(
        `update_mask.paths[${i}]`,
        `${JSON.stringify(path)} is not an updatable field; expected one of ${UPDATABLE_LIST}`,
      );
    }
    if (seen.has(path)) throw new ValidationError(`update_mask.paths[${i}]`, `${JSON.stringify(path)} is named twice`);
    seen.add(path);
  });
  const input: UpdateKeyInput = { fields: paths, etag: optionalString(req.etag) };
  for (const path of paths as UpdatableField[]) {
    switch (path) {
      case "name":
        input.name = req.name;
        break;
      case "description":
        input.description = req.description;
        break;
      case "permission":
        input.permission = permissions.fromProto(req.permission, "permission") ?? "full_access";
        break;
      case "domain_id":
        input.domainId = optionalString(req.domainId);
        break;
      case "scopes":
        input.scopes = req.scopes;
        break;
      case "claims":
        input.claims = claimsFromProto(req.claims, "claims");
        break;
      case "expire_time":
        input.expiresAt = msFromTimestamp(req.expireTime, "expire_time");
        break;
      case "enabled":
        input.enabled = req.enabled;
        break;
      case "allowed_cidrs":
        input.allowedCidrs = req.allowedCidrs;
        break;
      case "ratelimits":
        input.ratelimits = rateLimitsFromProto(req.ratelimits);
        break;
      case "remaining":
        input.remaining = req.remaining === undefined ? undefined : numberFromInt64(req.remaining, "remaining");
        break;
      case "credits_low_threshold":
        input.creditsLowThreshold =
          req.creditsLowThreshold === undefined
            ? undefined
            : numberFromInt64(req.creditsLowThreshold, "credits_low_threshold");
        break;
      case "refill":
        input.refill = refillFromProto(req.refill, "refill");
        break;
    }
  }
  return input;
}

/** The hot path: one object, no copies of the lists. */
export function verifyInput(req: VerifyKeyRequest): VerifyInput {
  let cost: number | undefined;
  if (req.cost !== undefined) {
    if (req.cost < 0n) throw new ValidationError("cost", "must not be negative");
    cost = numberFromInt64(req.cost, "cost");
  }
  return {
    token: req.token,
    requiredPermission:
      req.requiredPermission === 0 ? undefined : permissions.fromProto(req.requiredPermission, "required_permission"),
    domainId: req.domainId === "" ? undefined : req.domainId,
    requiredScopes: req.requiredScopes,
    context: req.context === undefined ? undefined : verifyContext(req.context),
    cost,
    ratelimits: req.ratelimits,
  };
}

function verifyContext(context: ProtoVerifyContext): VerifyContext {
  return {
    ip: context.ip,
    method: context.method,
    path: context.path,
    userAgent: context.userAgent,
    tags: context.tags,
  };
}

export function usageInput(req: GetKeyUsageRequest): UsageInput {
  return {
    id: req.id,
    from: msFromTimestamp(req.fromTime, "from_time"),
    to: msFromTimestamp(req.toTime, "to_time"),
    granularity: granularities.fromProto(req.granularity, "granularity"),
  };
}

export function listKeyLogsInput(req: ListKeyLogsRequest): ListKeyLogsInput {
  return {
    id: req.id,
    ...pageRequest(req),
    code: verifyCodes.fromProto(req.code, "code"),
    from: msFromTimestamp(req.fromTime, "from_time"),
    to: msFromTimestamp(req.toTime, "to_time"),
  };
}

export function listAuditInput(req: ListAuditEventsRequest): ListAuditInput {
  return {
    ...pageRequest(req),
    keyId: optionalString(req.keyId),
    actor: optionalString(req.actor),
    action: optionalString(req.action),
    from: msFromTimestamp(req.fromTime, "from_time"),
    to: msFromTimestamp(req.toTime, "to_time"),
  };
}

export function createExportInput(req: CreateExportRequest): CreateExportInput {
  const resource = exportResources.fromProto(req.resource, "resource");
  if (resource === undefined) {
    throw new ValidationError("resource", "required: EXPORT_RESOURCE_API_KEYS or EXPORT_RESOURCE_KEY_LOGS");
  }
  return { resource, filters: exportFiltersFromProto(req.filters) };
}

function exportFiltersFromProto(filters: ProtoExportFilters | undefined): ExportFilters {
  if (filters === undefined) return {};
  return {
    status: keyStatuses.fromProto(filters.status, "filters.status"),
    permission: permissions.fromProto(filters.permission, "filters.permission"),
    subject: optionalString(filters.subject),
    domainId: optionalString(filters.domainId),
    nameContains: optionalString(filters.nameContains),
    keyId: optionalString(filters.keyId),
    code: verifyCodes.fromProto(filters.code, "filters.code"),
    from: msFromTimestamp(filters.fromTime, "filters.from_time"),
    to: msFromTimestamp(filters.toTime, "filters.to_time"),
  };
}

export function listExportsInput(req: ListExportsRequest): PageRequest & { state?: ExportState } {
  return { ...pageRequest(req), state: exportStates.fromProto(req.state, "state") };
}

export function updateExportInput(req: UpdateExportRequest): UpdateExportInput {
  const state = exportStates.fromProto(req.state, "state");
  const mailState = exportMailStates.fromProto(req.mailState, "mail_state");
  if (state === undefined && mailState === undefined) {
    throw new ValidationError("state", "required unless mail_state is given");
  }
  if (req.attempts < 0) throw new ValidationError("attempts", "must not be negative");
  if (req.rowCount < 0n) throw new ValidationError("row_count", "must not be negative");
  if (req.byteSize < 0n) throw new ValidationError("byte_size", "must not be negative");
  return {
    id: req.id,
    state,
    rowCount: numberFromInt64(req.rowCount, "row_count"),
    byteSize: numberFromInt64(req.byteSize, "byte_size"),
    error: optionalString(req.error),
    attempts: req.attempts,
    mailState,
    mailError: optionalString(req.mailError),
  };
}

const DEFAULT_EXPORT_BATCH = 500;

/** StreamExportRows' batch size: 0 means the contract's default of 500. */
export function exportBatchSize(req: StreamExportRowsRequest): number {
  if (req.batchSize < 0) throw new ValidationError("batch_size", "must not be negative");
  return req.batchSize === 0 ? DEFAULT_EXPORT_BATCH : req.batchSize;
}

/** 0 means the default for each, except auto_revoke_days where 0 means never. */
export function sweepInput(req: RunSweepRequest): SweepInput {
  const days = (value: number, field: string, zeroMeansDefault: boolean): number | undefined => {
    if (value < 0) throw new ValidationError(field, "must not be negative");
    return value === 0 && zeroMeansDefault ? undefined : value;
  };
  return {
    inactiveDays: days(req.inactiveDays, "inactive_days", true),
    autoRevokeDays: days(req.autoRevokeDays, "auto_revoke_days", false),
    logRetentionDays: days(req.logRetentionDays, "log_retention_days", true),
    rotationDays: days(req.rotationDays, "rotation_days", true),
  };
}

function pageRequest(req: { pageSize: number; pageToken: string }): PageRequest {
  return { pageSize: pageSizeFromProto(req.pageSize), pageToken: optionalString(req.pageToken) };
}

function rateLimitsFromProto(limits: RateLimit[]): RateLimitRule[] {
  return limits.map((limit) => ({
    name: limit.name,
    limit: limit.limit,
    durationSeconds: limit.durationSeconds,
  }));
}

/** Refill's interval is required when a refill is given; day_of_month 0 means the contract's default, 1. */
function refillFromProto(refill: Refill | undefined, field: string): Omit<RefillRule, "lastRefillAt"> | undefined {
  if (refill === undefined) return undefined;
  const interval = refillIntervals.fromProto(refill.interval, `${field}.interval`);
  if (interval === undefined) {
    throw new ValidationError(`${field}.interval`, "required: REFILL_INTERVAL_DAILY or REFILL_INTERVAL_MONTHLY");
  }
  if (refill.dayOfMonth < 0) throw new ValidationError(`${field}.day_of_month`, "must not be negative");
  return {
    interval,
    amount: numberFromInt64(refill.amount, `${field}.amount`),
    dayOfMonth: refill.dayOfMonth === 0 ? 1 : refill.dayOfMonth,
  };
}

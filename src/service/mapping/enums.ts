import type { DescEnum } from "@bufbuild/protobuf";
import {
  ExportMailState,
  ExportMailStateSchema,
  ExportResource,
  ExportResourceSchema,
  ExportState,
  ExportStateSchema,
} from "../../gen/keyward/v1/export_pb.js";
import {
  KeyStatus,
  KeyStatusSchema,
  Permission,
  PermissionSchema,
  RefillInterval,
  RefillIntervalSchema,
} from "../../gen/keyward/v1/key_pb.js";
import { Granularity, GranularitySchema } from "../../gen/keyward/v1/usage_pb.js";
import { VerifyCode, VerifyCodeSchema } from "../../gen/keyward/v1/verify_pb.js";
import { ValidationError } from "../keys/errors.js";
import type * as model from "../keys/model.js";

/** Both directions between a proto enum and the domain's lower-case strings. */
export interface EnumMapping<P extends number, D extends string> {
  /**
   * The domain value, or undefined for the zero value (unset). Proto3 enums are
   * open, so the wire carries any number: one the contract does not define is
   * rejected naming the field.
   */
  fromProto(value: P, field: string): D | undefined;
  toProto(value: D): P;
}

function enumMapping<P extends number, D extends string>(
  schema: DescEnum,
  pairs: ReadonlyArray<readonly [P, D]>,
): EnumMapping<P, D> {
  const toDomain = new Map<number, D>(pairs);
  const toProto = new Map<D, P>(pairs.map(([p, d]) => [d, p]));
  const expected = pairs.map(([p]) => schema.value[p]?.name ?? String(p)).join(", ");
  return {
    fromProto(value, field) {
      if (value === 0) return undefined;
      const domain = toDomain.get(value);
      if (domain === undefined) {
        throw new ValidationError(field, `unknown value ${value}; expected one of ${expected}`);
      }
      return domain;
    },
    toProto(value) {
      // The domain's types are closed, so a miss is a programming error; the
      // zero value is the least harmful answer.
      return toProto.get(value) ?? (0 as P);
    },
  };
}

export const permissions = enumMapping<Permission, model.Permission>(PermissionSchema, [
  [Permission.FULL_ACCESS, "full_access"],
  [Permission.SENDING_ACCESS, "sending_access"],
]);

export const keyStatuses = enumMapping<KeyStatus, model.KeyStatus>(KeyStatusSchema, [
  [KeyStatus.ACTIVE, "active"],
  [KeyStatus.INACTIVE, "inactive"],
  [KeyStatus.EXPIRED, "expired"],
  [KeyStatus.REVOKED, "revoked"],
  [KeyStatus.DISABLED, "disabled"],
]);

export const verifyCodes = enumMapping<VerifyCode, model.VerifyCode>(VerifyCodeSchema, [
  [VerifyCode.VALID, "VALID"],
  [VerifyCode.MALFORMED, "MALFORMED"],
  [VerifyCode.NOT_FOUND, "NOT_FOUND"],
  [VerifyCode.REVOKED, "REVOKED"],
  [VerifyCode.EXPIRED, "EXPIRED"],
  [VerifyCode.DISABLED, "DISABLED"],
  [VerifyCode.IP_NOT_ALLOWED, "IP_NOT_ALLOWED"],
  [VerifyCode.INSUFFICIENT_PERMISSION, "INSUFFICIENT_PERMISSION"],
  [VerifyCode.DOMAIN_MISMATCH, "DOMAIN_MISMATCH"],
  [VerifyCode.MISSING_SCOPES, "MISSING_SCOPES"],
  [VerifyCode.RATE_LIMITED, "RATE_LIMITED"],
  [VerifyCode.USAGE_EXCEEDED, "USAGE_EXCEEDED"],
]);

export const granularities = enumMapping<Granularity, "hour" | "day">(GranularitySchema, [
  [Granularity.HOUR, "hour"],
  [Granularity.DAY, "day"],
]);

export const refillIntervals = enumMapping<RefillInterval, model.RefillRule["interval"]>(RefillIntervalSchema, [
  [RefillInterval.DAILY, "daily"],
  [RefillInterval.MONTHLY, "monthly"],
]);

export const exportResources = enumMapping<ExportResource, model.ExportResource>(ExportResourceSchema, [
  [ExportResource.API_KEYS, "api_keys"],
  [ExportResource.KEY_LOGS, "key_logs"],
]);

export const exportStates = enumMapping<ExportState, model.ExportState>(ExportStateSchema, [
  [ExportState.PENDING, "pending"],
  [ExportState.READY, "ready"],
  [ExportState.FAILED, "failed"],
  [ExportState.EXPIRED, "expired"],
]);

export const exportMailStates = enumMapping<ExportMailState, model.ExportMailState>(ExportMailStateSchema, [
  [ExportMailState.PENDING, "pending"],
  [ExportMailState.SENT, "sent"],
  [ExportMailState.FAILED, "failed"],
  [ExportMailState.NONE, "none"],
]);

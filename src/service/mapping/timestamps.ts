import { type Timestamp, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ValidationError } from "../keys/errors.js";

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range google.protobuf.Timestamp allows. */
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

/**
 * A request's Timestamp as milliseconds, or undefined when unset. The wire
 * accepts any seconds and nanos; the contract does not, so a value outside the
 * Timestamp range is rejected naming the field instead of becoming a date
 * nobody meant.
 */
export function msFromTimestamp(value: Timestamp | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (value.nanos < 0 || value.nanos > 999_999_999) {
    throw new ValidationError(field, "nanos must be 0-999,999,999");
  }
  if (value.seconds < MIN_SECONDS || value.seconds > MAX_SECONDS) {
    throw new ValidationError(field, "must be between 0001-01-01 and 9999-12-31");
  }
  return Number(value.seconds) * 1000 + Math.floor(value.nanos / 1_000_000);
}

/** A domain time (ms, or null when unset) as a Timestamp, or undefined. */
export function timestampFromNullableMs(ms: number | null | undefined): Timestamp | undefined {
  return ms === null || ms === undefined ? undefined : timestampFromMs(ms);
}

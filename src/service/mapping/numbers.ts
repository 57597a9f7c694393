import { ValidationError } from "../keys/errors.js";

const MAX = BigInt(Number.MAX_SAFE_INTEGER);
const MIN = BigInt(Number.MIN_SAFE_INTEGER);

/** An int64 request field as a number; one that a number cannot hold exactly is rejected. */
export function numberFromInt64(value: bigint, field: string): number {
  if (value > MAX || value < MIN) {
    throw new ValidationError(field, "out of range");
  }
  return Number(value);
}

/**
 * The page size of a list request: 0 (unset) means the default, a negative
 * one is rejected here, the upper bound is the domain's rule.
 */
export function pageSizeFromProto(value: number, field = "page_size"): number | undefined {
  if (value < 0) throw new ValidationError(field, "must not be negative");
  return value === 0 ? undefined : value;
}

/** Proto3 strings cannot be unset: the empty string stands for "not given". */
export function optionalString(value: string): string | undefined {
  return value === "" ? undefined : value;
}

import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { CLAIMS_MAX_DEPTH as MAX_DEPTH } from "../../shared/contract/claims-depth.js";
import { ValidationError } from "../keys/errors.js";

/**
 * Claims from a request's google.protobuf.Struct (protobuf-es gives it as a
 * JSON object). The binary wire can carry what JSON cannot: NaN and infinite
 * number_value. Those are rejected naming the path, e.g. `claims.limits[2]`,
 * before the domain measures or stores them. Size limits are the domain's.
 */
export function claimsFromProto(value: JsonObject | undefined, field: string): JsonObject | undefined {
  if (value === undefined) return undefined;
  checkJson(value, field, 0);
  return value;
}

function checkJson(value: JsonValue, path: string, depth: number): void {
  if (depth > MAX_DEPTH) throw new ValidationError(path, `nested deeper than ${MAX_DEPTH} levels`);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new ValidationError(path, "is not a finite number");
    return;
  }
  if (value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkJson(value[i] as JsonValue, `${path}[${i}]`, depth + 1);
    return;
  }
  for (const [key, item] of Object.entries(value)) checkJson(item, `${path}.${key}`, depth + 1);
}

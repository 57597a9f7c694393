import { CLAIMS_MAX_DEPTH } from "../../shared/contract/claims-depth.js";

/**
 * What a caller is told when its request message does not decode. The only
 * recursive type a request holds is claims (google.protobuf.Struct), so
 * protobuf-es's recursion limit is named as what it is: claims nested too
 * deep. Other decode errors pass on as protobuf-es words them.
 */
export function decodeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/maximum recursion depth/i.test(message)) {
    return `claims: nested deeper than ${CLAIMS_MAX_DEPTH} levels (${message})`;
  }
  return message;
}

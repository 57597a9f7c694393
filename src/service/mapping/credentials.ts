import { createHash, timingSafeEqual } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { ValidationError } from "../keys/errors.js";

/** Checks the service credential of a call. */
export interface ServiceAuth {
  /** Throws Unauthenticated unless `authorization: Bearer <service token>` is present. */
  require(headers: Headers): void;
}

const BEARER = /^bearer\s+/i;

/**
 * Both sides are hashed to 32 bytes first so that timingSafeEqual compares
 * equal lengths and the time taken says nothing about the expected token's
 * length or prefix. Messages never echo what was presented.
 */
export function createServiceAuth(serviceToken: string): ServiceAuth {
  const expected = sha256(serviceToken);
  return {
    require(headers) {
      const value = headers.get("authorization");
      if (value === null || value === "") {
        throw new ConnectError("authorization: a service token is required (Bearer)", Code.Unauthenticated);
      }
      const match = BEARER.exec(value);
      const presented = match === null ? "" : value.slice(match[0].length).trim();
      if (presented === "" || !timingSafeEqual(sha256(presented), expected)) {
        throw new ConnectError("authorization: invalid service token", Code.Unauthenticated);
      }
    },
  };
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

const ACTOR_HEADER = "keyward-actor";
const MAX_ACTOR_LENGTH = 254; // the longest email address
// C0 and C1 control characters and DEL: an actor is written to the audit log and emails.
const CONTROL = /\p{Cc}/u;

/** Who acts, from metadata `keyward-actor` (the gateway sends the admin's email); default "service". */
export function actorFrom(headers: Headers): string {
  const value = headers.get(ACTOR_HEADER)?.trim();
  if (value === undefined || value === "") return "service";
  if (value.length > MAX_ACTOR_LENGTH) {
    throw new ValidationError(ACTOR_HEADER, `longer than ${MAX_ACTOR_LENGTH} characters`);
  }
  if (CONTROL.test(value)) throw new ValidationError(ACTOR_HEADER, "contains control characters");
  return value;
}

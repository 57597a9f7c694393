import { createHash, timingSafeEqual } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { isReservedActorName, SERVICE_ACTOR } from "../keys/actors.js";
import { ValidationError } from "../keys/errors.js";
import type { Actor } from "../keys/model.js";
import { validateId } from "../keys/validation.js";

/** Checks the service credential of a call. */
export interface ServiceAuth {
  /** Throws Unauthenticated unless `authorization: Bearer <service token>` is present. */
  require(headers: Headers): void;
}

const BEARER = /^bearer\s+/i;

/**
 * What the transports put in place of an `authorization` sent more than once:
 * Node keeps only the first of them, so a right and a wrong one would pass or
 * fail by their order. No bearer token can equal it (it has a space).
 */
export const AMBIGUOUS_AUTHORIZATION = "ambiguous authorization";

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
      if (value === AMBIGUOUS_AUTHORIZATION) {
        throw new ConnectError("authorization: send exactly one authorization header", Code.Unauthenticated);
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
const ACTOR_KEY_HEADER = "keyward-actor-key-id";
const MAX_ACTOR_LENGTH = 254; // the longest email address
// C0 and C1 control characters and DEL: an actor is written to the audit log and emails.
const CONTROL = /\p{Cc}/u;

/**
 * Who acts. The gateway sends the admin's name percent-encoded in
 * `keyward-actor` (metadata values are ASCII; names of people are not) and
 * the acting key in `keyward-actor-key-id`. A call that names a key never
 * acts under a name the service keeps for itself: it is recorded as
 * `key:<id>` then. With neither header the service itself acts.
 */
export function actorFrom(headers: Headers): Actor {
  const keyHeader = headers.get(ACTOR_KEY_HEADER)?.trim();
  const keyId = keyHeader ? validateId(keyHeader, ACTOR_KEY_HEADER) : null;
  const encoded = headers.get(ACTOR_HEADER)?.trim();
  if (encoded === undefined || encoded === "") return keyId === null ? SERVICE_ACTOR : keyActor(keyId);
  const name = decodeActor(encoded);
  if (name.length > MAX_ACTOR_LENGTH) {
    throw new ValidationError(ACTOR_HEADER, `longer than ${MAX_ACTOR_LENGTH} characters`);
  }
  // An admin key's email claim is whatever an admin typed: one that is reserved, names a key, or
  // holds control characters (audit log, mails, terminals) acts as the key itself, never refused.
  if (keyId !== null && (isReservedActorName(name) || name.startsWith("key:") || CONTROL.test(name))) {
    return keyActor(keyId);
  }
  if (CONTROL.test(name)) throw new ValidationError(ACTOR_HEADER, "contains control characters");
  return { name, keyId };
}

function keyActor(keyId: string): Actor {
  return { name: `key:${keyId}`, keyId };
}

function decodeActor(encoded: string): string {
  try {
    return decodeURIComponent(encoded).trim();
  } catch {
    throw new ValidationError(ACTOR_HEADER, "must be percent-encoded UTF-8");
  }
}

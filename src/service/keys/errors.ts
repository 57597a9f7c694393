/**
 * Domain errors. Each edge maps them once: the service's handlers to gRPC
 * codes, the gateway to tRPC codes. Messages are written for the caller and
 * never contain a token.
 */

/** A field of the input is wrong; `field` is its proto name, e.g. `scopes[2]`. */
export class ValidationError extends Error {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = "ValidationError";
  }
}

export class NotFoundError extends Error {
  constructor(
    readonly what: string,
    readonly id: string,
  ) {
    super(`${what} ${JSON.stringify(id)} not found`);
    this.name = "NotFoundError";
  }
}

/** The thing exists but is in a state that forbids the action (e.g. revoked). */
export class FailedPreconditionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FailedPreconditionError";
  }
}

/**
 * The write was decided against a version of the thing that is no longer
 * current: someone else changed it first. The caller may read it again and
 * decide anew (gRPC ABORTED, as AIP-154 has it for a stale etag).
 */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConflictError";
  }
}

/**
 * The database cannot be reached right now (refused, dropped, shutting down,
 * out of connections). Nothing is known to have been written; the caller may
 * retry later (gRPC UNAVAILABLE).
 */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

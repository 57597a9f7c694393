import { StoreUnavailableError } from "../../keys/errors.js";

/**
 * SQLSTATE classes that mean "the database cannot serve us now": connection
 * exceptions (08), insufficient resources (53: too many connections, disk
 * full, out of memory) and shutdown / start-up (57P01-57P03). Not 08P01,
 * a protocol violation: that is a bug of ours.
 */
const UNAVAILABLE_SQLSTATE = /^(08(?!P01)|53|57P0[1-3])/;

/** Socket errors of a connection that cannot be made or was lost. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
]);

/** What pg itself says when a connection ends, times out or was broken. */
const DRIVER_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|connection timeout/i;

/** Whether `error` says the database is out of reach rather than that the statement was wrong. */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (code.length === 5 && UNAVAILABLE_SQLSTATE.test(code)) return true;
    if (NETWORK_CODES.has(code)) return true;
  }
  if (error instanceof AggregateError) return error.errors.some(isUnavailable);
  return DRIVER_MESSAGES.test(error.message);
}

/** A connection failure as StoreUnavailableError (the transport's UNAVAILABLE); anything else unchanged. */
export function toStoreError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError || !isUnavailable(error)) return error;
  return new StoreUnavailableError("the database is unavailable; try again later", { cause: error });
}

/** Deadlock and serialization failures: the transaction was rolled back and may simply run again. */
export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "40P01" || code === "40001";
}

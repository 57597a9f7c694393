import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import {
  ConflictError,
  FailedPreconditionError,
  NotFoundError,
  StoreUnavailableError,
  ValidationError,
} from "../keys/errors.js";

/** Turns anything a handler throws into the one ConnectError the caller sees. */
export type ErrorMapper = (error: unknown, rpc: string) => ConnectError;

/**
 * Domain errors map to their codes with their own message (already written
 * for the caller); a ConnectError passes through. Anything else is a bug: it
 * is logged with a request id and the caller gets only that id, so no
 * internal detail (SQL, paths, stack) leaks.
 */
export function createErrorMapper(logger: Logger): ErrorMapper {
  return (error, rpc) => {
    if (error instanceof ConnectError) return error;
    if (error instanceof ValidationError) return new ConnectError(error.message, Code.InvalidArgument);
    if (error instanceof NotFoundError) return new ConnectError(error.message, Code.NotFound);
    if (error instanceof FailedPreconditionError) {
      return new ConnectError(error.message, Code.FailedPrecondition);
    }
    if (error instanceof ConflictError) return new ConnectError(error.message, Code.Aborted);
    // Logged (the operator must know), but not a bug: the caller may retry.
    if (error instanceof StoreUnavailableError) {
      logger.warn({ err: error.cause ?? error, rpc }, "store unavailable");
      return new ConnectError(error.message, Code.Unavailable);
    }
    const requestId = randomUUID();
    logger.error({ err: error, requestId, rpc }, "unexpected error in handler");
    return new ConnectError(`internal error (request id ${requestId})`, Code.Internal);
  };
}

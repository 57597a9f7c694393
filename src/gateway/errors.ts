import { Code, ConnectError } from "@connectrpc/connect";
import { TRPCError } from "@trpc/server";
import { type TRPC_ERROR_CODE_KEY, TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import type { Logger } from "../shared/logger.js";
import { SessionsUnavailableError } from "./session-redis.js";

/**
 * The one place where service errors become tRPC errors (STYLE.md):
 * NotFound->NOT_FOUND, AlreadyExists->CONFLICT, InvalidArgument->BAD_REQUEST,
 * PermissionDenied->FORBIDDEN, FailedPrecondition->PRECONDITION_FAILED,
 * Unavailable/DeadlineExceeded->SERVICE_UNAVAILABLE (503). The console
 * sessions' Redis being away is a 503 too (SessionsUnavailableError).
 *
 * Unauthenticated is the exception: the gateway authenticates to the service
 * with its own credential, so the service refusing it is the operator's
 * misconfiguration, not the admin's fault. It is logged loudly and answered
 * with 503, never 401 (which would tell the admin their key is bad).
 */

/** One field-level problem with an input, named by its gateway (camelCase) path. */
export interface InputIssue {
  field: string;
  message: string;
}

/** A BAD_REQUEST's cause when the field is known; the error formatter puts the field in `data`. */
export class InputError extends Error {
  constructor(readonly issues: InputIssue[]) {
    super(issues.map((i) => `${i.field}: ${i.message}`).join("; "));
    this.name = "InputError";
  }
}

/** A BAD_REQUEST naming one field, for checks zod cannot express. */
export function badInput(field: string, message: string): TRPCError {
  const cause = new InputError([{ field, message }]);
  return new TRPCError({ code: "BAD_REQUEST", message: cause.message, cause });
}

/**
 * Maps a ConnectError from the service, and the console sessions' Redis being
 * away (503, never a 500: the admin can do nothing but wait, and Bearer calls
 * still work); anything else is returned unchanged.
 */
export function fromServiceError(error: unknown, logger: Logger): unknown {
  if (error instanceof SessionsUnavailableError)
    return new TRPCError({ code: "SERVICE_UNAVAILABLE", message: error.message, cause: error });
  if (!(error instanceof ConnectError)) return error;
  const message = error.rawMessage;
  switch (error.code) {
    case Code.NotFound:
      return new TRPCError({ code: "NOT_FOUND", message, cause: error });
    case Code.AlreadyExists:
    case Code.Aborted:
      return new TRPCError({ code: "CONFLICT", message, cause: error });
    case Code.InvalidArgument:
    case Code.OutOfRange: {
      const issue = serviceIssue(message);
      const cause = issue ? new InputError([issue]) : error;
      return new TRPCError({ code: "BAD_REQUEST", message: issue ? cause.message : message, cause });
    }
    case Code.PermissionDenied:
      return new TRPCError({ code: "FORBIDDEN", message, cause: error });
    case Code.FailedPrecondition:
      return new TRPCError({ code: "PRECONDITION_FAILED", message, cause: error });
    case Code.ResourceExhausted:
      return new TRPCError({ code: "TOO_MANY_REQUESTS", message, cause: error });
    case Code.Unauthenticated:
      logger.error(
        { code: Code[error.code] },
        "the key service rejected the gateway's service credential: KEYWARD_SERVICE_TOKEN (or <data dir>/service-token) must match the service's",
      );
      return new TRPCError({
        code: "SERVICE_UNAVAILABLE",
        message: "the gateway cannot authenticate to the key service; an operator must fix its service token",
        cause: error,
      });
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      logger.warn({ code: Code[error.code], reason: message }, "the key service is unavailable");
      return new TRPCError({
        code: "SERVICE_UNAVAILABLE",
        message:
          error.code === Code.DeadlineExceeded
            ? "the key service did not answer in time; try again shortly"
            : "the key service is unavailable; try again shortly",
        cause: error,
      });
    case Code.Canceled:
      return new TRPCError({ code: "CLIENT_CLOSED_REQUEST", message: "the request was cancelled", cause: error });
    case Code.Unimplemented:
      return new TRPCError({ code: "NOT_IMPLEMENTED", message, cause: error });
    default:
      // Internal, Unknown, DataLoss: the service's bug. Its message stays in our log, not in the answer.
      logger.error({ code: Code[error.code], reason: message }, "the key service failed");
      return new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "the key service failed", cause: error });
  }
}

/**
 * The service's InvalidArgument messages start with the proto field path
 * (`domain_id: only allowed with sending access`, `scopes[2]: ...`); the
 * gateway speaks camelCase, so the path is translated.
 */
export function serviceIssue(message: string): InputIssue | undefined {
  const match = /^([a-z][a-z0-9_]*(?:\[\d+\])?(?:\.[a-z][a-z0-9_]*(?:\[\d+\])?)*): (.+)$/s.exec(message);
  if (!match) return undefined;
  const field = (match[1] as string).replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  return { field: SERVICE_FIELD_ALIASES[field] ?? field, message: match[2] as string };
}

/** Service request fields the gateway exposes under another name. */
const SERVICE_FIELD_ALIASES: Record<string, string> = {
  fromTime: "from",
  toTime: "to",
};

interface SchemaIssue {
  message: string;
  path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
  code?: string;
  keys?: string[];
}

/** The field-level issues behind a BAD_REQUEST: from zod (input validation) or from the service. */
export function inputIssues(error: TRPCError): InputIssue[] | undefined {
  const cause: unknown = error.cause;
  if (cause instanceof InputError) return cause.issues;
  if (cause && typeof cause === "object" && Array.isArray((cause as { issues?: unknown }).issues)) {
    return (cause as { issues: SchemaIssue[] }).issues.map(schemaIssue);
  }
  return undefined;
}

function schemaIssue(issue: SchemaIssue): InputIssue {
  let field = "";
  for (const segment of issue.path ?? []) {
    const key = typeof segment === "object" ? segment.key : segment;
    field += typeof key === "number" ? `[${key}]` : `${field ? "." : ""}${String(key)}`;
  }
  if (issue.code === "unrecognized_keys" && issue.keys?.length) {
    const prefix = field ? `${field}.` : "";
    return {
      field: `${prefix}${issue.keys[0]}`,
      message: `unknown field${issue.keys.length > 1 ? `s ${issue.keys.join(", ")}` : ""}`,
    };
  }
  return { field: field || "input", message: issue.message };
}

/** The JSON-RPC code of each tRPC code, and 410 (no tRPC code) as JSON-RPC's generic server error. */
const JSON_RPC_CODES: Record<string, number> = { ...TRPC_ERROR_CODES_BY_KEY, GONE: -32000 };

/** tRPC's code for an HTTP status the framework answers by itself (body limit, media type, routing). */
const CODE_BY_STATUS: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_SUPPORTED",
  408: "TIMEOUT",
  409: "CONFLICT",
  412: "PRECONDITION_FAILED",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  422: "UNPROCESSABLE_CONTENT",
  429: "TOO_MANY_REQUESTS",
  499: "CLIENT_CLOSED_REQUEST",
  501: "NOT_IMPLEMENTED",
  503: "SERVICE_UNAVAILABLE",
};

/** An error answer outside tRPC, in tRPC's envelope so that tRPC clients (the CLI) read it too. */
export interface ErrorAnswer {
  error: { message: string; code: number; data: { code: string; httpStatus: number } };
}

export function errorAnswer(status: number, code: string, message: string): ErrorAnswer {
  return { error: { message, code: JSON_RPC_CODES[code] ?? -32000, data: { code, httpStatus: status } } };
}

/** The tRPC code of an HTTP status; anything unlisted is a client error or an internal one. */
export function codeOfStatus(status: number): string {
  return CODE_BY_STATUS[status] ?? (status >= 500 ? "INTERNAL_SERVER_ERROR" : "BAD_REQUEST");
}

/**
 * The message an answer may carry. An INTERNAL_SERVER_ERROR that tRPC made
 * from an unexpected exception carries that exception's message (an errno
 * text names file paths); the answer says only that it failed, the log keeps
 * the rest. Deliberate TRPCErrors keep their own message.
 */
export function publicMessage(error: TRPCError, message: string): string {
  const cause: unknown = error.cause;
  const unexpected = cause instanceof Error && !(cause instanceof TRPCError) && error.message === cause.message;
  return error.code === "INTERNAL_SERVER_ERROR" && unexpected ? "internal server error" : message;
}

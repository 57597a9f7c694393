/**
 * What every middleware shares, framework aside: where the token is, what the
 * request tells the service, and which HTTP answer each verification code gets.
 */
import type { PassedVerification, VerifyResult } from "./result.js";
import { createVerifier, type Verifier, type VerifierOptions, type VerifyOptions } from "./verifier.js";

/** The JSON body of every refusal. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** An HTTP refusal: status, headers (Retry-After, WWW-Authenticate) and body. */
export interface HttpDenial {
  status: number;
  headers: Record<string, string>;
  body: ErrorBody;
}

/** What a request must satisfy, fixed for a route. */
export type KeyRequirements = Omit<VerifyOptions, "context">;

interface GuardSettings<Req> extends KeyRequirements {
  /**
   * The header holding the key. Default `authorization`, as `Bearer <key>`;
   * any other header holds the key itself (a `Bearer ` prefix is accepted).
   */
  header?: string;
  /** Tags kept in the key's request log (at most 10). */
  tags?: Record<string, string>;
  /** Requirements that depend on the request, merged over the fixed ones (e.g. a cost per route). */
  requirements?: (request: Req) => KeyRequirements | undefined;
}

/** Options of a middleware: a shared `verifier`, or the options to create one. */
export type MiddlewareOptions<Req> = GuardSettings<Req> & ({ verifier: Verifier } | VerifierOptions);

/** The facts of an incoming request a middleware reads. */
export interface RequestFacts {
  /** The value of a header (lower-case name). */
  header(name: string): string | undefined;
  ip: string | undefined;
  method: string;
  /** The path without the query string. */
  path: string;
}

export type GuardOutcome = { pass: PassedVerification; denial?: undefined } | { pass?: undefined; denial: HttpDenial };

const STATUS: Record<string, number> = {
  MISSING_KEY: 401,
  MALFORMED: 401,
  NOT_FOUND: 401,
  REVOKED: 401,
  EXPIRED: 401,
  DISABLED: 401,
  UNKNOWN: 401,
  INSUFFICIENT_PERMISSION: 403,
  MISSING_SCOPES: 403,
  DOMAIN_MISMATCH: 403,
  IP_NOT_ALLOWED: 403,
  RATE_LIMITED: 429,
  USAGE_EXCEEDED: 429,
  UNAVAILABLE: 503,
  ERROR: 500,
};

const MESSAGE: Record<string, string> = {
  MISSING_KEY: "An API key is required.",
  MALFORMED: "The API key is malformed.",
  NOT_FOUND: "The API key does not exist.",
  REVOKED: "The API key has been revoked.",
  EXPIRED: "The API key has expired.",
  DISABLED: "The API key is disabled.",
  UNKNOWN: "The API key was refused.",
  INSUFFICIENT_PERMISSION: "The API key does not have the permission this needs.",
  MISSING_SCOPES: "The API key lacks a scope this needs.",
  DOMAIN_MISMATCH: "The API key is restricted to another domain.",
  IP_NOT_ALLOWED: "The API key may not be used from this address.",
  RATE_LIMITED: "Too many requests with this API key.",
  USAGE_EXCEEDED: "The API key has no credits left.",
  UNAVAILABLE: "API keys cannot be checked right now; try again shortly.",
  ERROR: "API keys cannot be checked.",
};

/** The HTTP status a verification code is answered with (200 for VALID). */
export function httpStatusOf(code: string): number {
  return code === "VALID" ? 200 : (STATUS[code] ?? 401);
}

function denial(code: string, headers: Record<string, string> = {}, message = MESSAGE[code] ?? code): HttpDenial {
  return { status: httpStatusOf(code), headers, body: { error: { code, message } } };
}

/**
 * The HTTP refusal for a result, or undefined when the request may go on
 * (a valid key, or an unchecked pass under onUnavailable "allow").
 * `bearer` adds RFC 6750's WWW-Authenticate to 401s.
 */
export function denialOf(result: VerifyResult, bearer = true, now = Date.now()): HttpDenial | undefined {
  if (result.valid) return undefined;
  const code = result.code;
  const status = httpStatusOf(code);
  const headers: Record<string, string> = {};
  if (status === 401 && bearer) headers["www-authenticate"] = 'Bearer error="invalid_token"';
  if (code === "RATE_LIMITED" && result.checked && result.ratelimit !== undefined) {
    headers["retry-after"] = String(Math.max(1, Math.ceil((result.ratelimit.reset.getTime() - now) / 1000)));
  }
  if (code === "UNAVAILABLE") headers["retry-after"] = "1";
  return denial(code, headers);
}

/** The token in a header value, or the refusal when there is none or it is not `Bearer <token>`. */
export function tokenFrom(value: string | undefined, header: string): { token: string } | { denial: HttpDenial } {
  const bearer = header === "authorization";
  const trimmed = value?.trim() ?? "";
  if (trimmed === "") {
    return {
      denial: denial(
        "MISSING_KEY",
        bearer ? { "www-authenticate": "Bearer" } : {},
        bearer ? "An API key is required: Authorization: Bearer <key>." : `An API key is required in ${header}.`,
      ),
    };
  }
  const match = /^bearer\s+(\S+)$/i.exec(trimmed);
  if (match !== null) return { token: match[1] as string };
  if (bearer || /\s/.test(trimmed)) {
    return {
      denial: denial(
        "MALFORMED",
        bearer ? { "www-authenticate": 'Bearer error="invalid_request"' } : {},
        bearer ? "The Authorization header must be Bearer <key>." : `${header} must hold the API key alone.`,
      ),
    };
  }
  return { token: trimmed };
}

export interface Guard<Req> {
  /** Reads the token, verifies it and decides. Never throws. */
  check(request: Req, facts: RequestFacts): Promise<GuardOutcome>;
  readonly verifier: Verifier;
  /** Closes the verifier if this guard created it. */
  close(): void;
}

/** The framework-neutral core of the middlewares. */
export function createGuard<Req>(options: MiddlewareOptions<Req>): Guard<Req> {
  const own = !("verifier" in options);
  const verifier = "verifier" in options ? options.verifier : createVerifier(options);
  const header = (options.header ?? "authorization").toLowerCase();
  const bearer = header === "authorization";
  const fixed: KeyRequirements = {};
  if (options.permission !== undefined) fixed.permission = options.permission;
  if (options.domainId !== undefined) fixed.domainId = options.domainId;
  if (options.scopes !== undefined) fixed.scopes = options.scopes;
  if (options.cost !== undefined) fixed.cost = options.cost;
  if (options.ratelimits !== undefined) fixed.ratelimits = options.ratelimits;
  if (options.deadlineMs !== undefined && !own) fixed.deadlineMs = options.deadlineMs;
  const dynamic = options.requirements;
  const tags = options.tags;

  return {
    verifier,
    close() {
      if (own) verifier.close();
    },
    async check(request, facts) {
      try {
        const found = tokenFrom(facts.header(header), header);
        if ("denial" in found) return { denial: found.denial };
        const extra = dynamic?.(request);
        const result = await verifier.verify(found.token, {
          ...fixed,
          ...extra,
          context: {
            ip: facts.ip,
            method: facts.method,
            path: facts.path,
            userAgent: facts.header("user-agent"),
            tags,
          },
        });
        const refused = denialOf(result, bearer);
        if (refused !== undefined) return { denial: refused };
        return { pass: result as PassedVerification };
      } catch {
        // Only a throwing `requirements` callback gets here: the verifier itself never throws.
        return { denial: denial("ERROR") };
      }
    },
  };
}

/** The path of a request target without its query string. */
export function pathOf(url: string): string {
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

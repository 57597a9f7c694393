import type { IncomingMessage } from "node:http";
import type { KeyServiceClient } from "../shared/contract/service-client.js";
import type { Logger } from "../shared/logger.js";
import { isRepeatedHeader } from "../shared/raw-headers.js";
import type { Principal } from "./auth.js";
import type { NewSession, SessionStore } from "./console-session.js";

/** What the caller's request looked like; passed to VerifyKey so the admin key's own log and CIDR checks see it. */
export interface RequestInfo {
  ip?: string;
  method?: string;
  path?: string;
  userAgent?: string;
}

/** The console's cookie sign-in, as one HTTP request sees it (console-session.ts). */
export interface WebSession {
  sessions: SessionStore;
  /** The session cookie's value as sent; undefined without one. */
  cookie: string | undefined;
  /** The x-keyward-csrf header as sent. */
  csrfHeader: string | undefined;
  /** Sets the session and CSRF cookies on the answer. */
  start(session: NewSession): void;
  /** Clears both cookies on the answer. */
  end(): void;
}

/** The context of every procedure. Built once per HTTP request (one batch shares it). */
export interface GatewayContext {
  service: KeyServiceClient;
  logger: Logger;
  /** The Authorization header as sent; undefined when absent. Never logged. */
  authorization: string | undefined;
  request: RequestInfo;
  /** Cookie sign-in; undefined for in-process callers, which authenticate by token only. */
  web?: WebSession;
  /**
   * What the calls of one batch share: the caller's authentication, until a
   * change made by the batch itself (see auth.ts), and the last of its changes.
   */
  memo: { principal?: Promise<Principal>; changes?: Promise<unknown> };
}

export interface ContextDeps {
  service: KeyServiceClient;
  logger: Logger;
}

/**
 * A context without HTTP: what `appRouter.createCaller(createContext(...))`
 * takes in tests and in-process callers.
 */
export function createContext(
  deps: ContextDeps,
  input: { authorization?: string; request?: RequestInfo; web?: WebSession } = {},
): GatewayContext {
  return {
    service: deps.service,
    logger: deps.logger,
    authorization: input.authorization,
    request: input.request ?? {},
    ...(input.web ? { web: input.web } : {}),
    memo: {},
  };
}

/** The adapter's createContext: reads the Authorization header and the client's address. */
export function createHTTPContextFactory(deps: ContextDeps) {
  return ({ req, web }: { req: IncomingMessage; web?: WebSession }): GatewayContext => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    return createContext(deps, {
      // Node keeps the first of repeated headers: a right and a wrong key must not pass by their order.
      authorization: isRepeatedHeader(req.rawHeaders, "authorization")
        ? REPEATED_AUTHORIZATION
        : req.headers.authorization,
      request: {
        ip: clientIp(req.socket.remoteAddress),
        method: req.method,
        // The path only: the query string holds the input.
        path: short(q === -1 ? url : url.slice(0, q)),
        userAgent: short(req.headers["user-agent"]),
      },
      web,
    });
  };
}

/** Stands for an Authorization header sent more than once; authenticate refuses it. */
export const REPEATED_AUTHORIZATION = "\u0000repeated";

/** A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; IPv4 CIDRs expect a.b.c.d. */
function clientIp(address: string | undefined): string | undefined {
  if (address?.startsWith("::ffff:") && address.includes(".")) return address.slice(7);
  return address;
}

/** The request log keeps short strings; a long batch path or user agent is cut rather than refused. */
function short(value: string | undefined): string | undefined {
  return value === undefined || value.length <= MAX_LOGGED_LENGTH ? value : value.slice(0, MAX_LOGGED_LENGTH);
}

const MAX_LOGGED_LENGTH = 200;

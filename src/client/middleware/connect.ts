/**
 * A Connect (connect-es 2) server interceptor:
 * `connectNodeAdapter({ routes, interceptors: [keyward({ target, onUnavailable })], contextValues: keywardContextValues })`.
 * A call it lets through carries the verification in `ctx.values.get(keywardVerification)`.
 * A refusal is a ConnectError: UNAUTHENTICATED (HTTP 401), PERMISSION_DENIED (403),
 * RESOURCE_EXHAUSTED (429, with Retry-After), UNAVAILABLE (503) or INTERNAL (500),
 * whose message starts with the verification code and whose metadata holds `keyward-code`.
 */
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextKey,
  createContextValues,
  type Interceptor,
} from "@connectrpc/connect";
import { createGuard, type MiddlewareOptions } from "../http.js";
import type { PassedVerification } from "../result.js";
import type { Verifier } from "../verifier.js";

/** The verification of a call the interceptor let through. */
export const keywardVerification = createContextKey<PassedVerification | undefined>(undefined, {
  description: "keyward verification",
});

/** The end user's address, set by keywardContextValues (connectNodeAdapter cannot give it to interceptors otherwise). */
export const keywardClientAddress = createContextKey<string | undefined>(undefined, {
  description: "keyward client address",
});

/** For connectNodeAdapter's `contextValues`: records the peer's address for the key's IP allowlist and log. */
export function keywardContextValues(
  req: { socket?: { remoteAddress?: string | undefined } | null },
  values: ContextValues = createContextValues(),
): ContextValues {
  return values.set(keywardClientAddress, req.socket?.remoteAddress);
}

/** What the interceptor reads of a call. */
export interface ConnectCall {
  readonly header: Headers;
  readonly url: string;
  readonly requestMethod: string;
  readonly contextValues: ContextValues;
}

export interface KeywardConnectOptions {
  /** The end user's address; default what keywardContextValues recorded. */
  ip?: (call: ConnectCall) => string | undefined;
}

export type KeywardInterceptor = Interceptor & {
  readonly verifier: Verifier;
  /** Closes the verifier if the interceptor created it. */
  close(): void;
};

const CODES: Record<number, Code> = {
  401: Code.Unauthenticated,
  403: Code.PermissionDenied,
  429: Code.ResourceExhausted,
  503: Code.Unavailable,
  500: Code.Internal,
};

function pathOfUrl(url: string): string {
  const scheme = url.indexOf("://");
  const start = scheme === -1 ? 0 : url.indexOf("/", scheme + 3);
  if (start === -1) return "/";
  const q = url.indexOf("?", start);
  return q === -1 ? url.slice(start) : url.slice(start, q);
}

/** Refuses a call without a valid key with the ConnectError its verification code maps to. */
export function keyward(options: MiddlewareOptions<ConnectCall> & KeywardConnectOptions): KeywardInterceptor {
  const guard = createGuard<ConnectCall>(options);
  const ipOf = options.ip ?? ((call: ConnectCall) => call.contextValues.get(keywardClientAddress));
  const interceptor: Interceptor = (next) => async (req) => {
    const outcome = await guard.check(req, {
      header: (name) => req.header.get(name) ?? undefined,
      ip: ipOf(req),
      method: req.requestMethod,
      path: pathOfUrl(req.url),
    });
    if (outcome.denial !== undefined) {
      const { status, headers, body } = outcome.denial;
      const metadata = new Headers(headers);
      metadata.set("keyward-code", body.error.code);
      throw new ConnectError(
        `${body.error.code}: ${body.error.message}`,
        CODES[status] ?? Code.Unauthenticated,
        metadata,
      );
    }
    req.contextValues.set(keywardVerification, outcome.pass);
    return next(req);
  };
  return Object.assign(interceptor, { verifier: guard.verifier, close: () => guard.close() });
}

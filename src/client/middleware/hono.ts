/**
 * Hono 4 middleware: `app.use("/api/*", keyward({ target, onUnavailable }))`.
 * A request it lets through carries the verification in `c.get("keyward")`.
 */
import type { Context, MiddlewareHandler } from "hono";
import { createGuard, type MiddlewareOptions } from "../http.js";
import type { PassedVerification } from "../result.js";
import type { Verifier } from "../verifier.js";

declare module "hono" {
  interface ContextVariableMap {
    /** Set by keyward(): the valid key (`.key`), or an unchecked pass (`.checked === false`) under onUnavailable "allow". */
    keyward: PassedVerification;
  }
}

export interface KeywardHonoOptions {
  /**
   * The end user's address. Default: the socket's peer under @hono/node-server
   * (`c.env.incoming`); on other runtimes pass e.g. `getConnInfo(c).remote.address`.
   */
  ip?: (c: Context) => string | undefined;
}

export type KeywardHonoMiddleware = MiddlewareHandler<{ Variables: { keyward: PassedVerification } }> & {
  readonly verifier: Verifier;
  /** Closes the verifier if the middleware created it. */
  close(): void;
};

function nodePeer(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
}

/**
 * Refuses a request without a valid key: 401, 403, 429 (with Retry-After),
 * 503 (service unreachable, onUnavailable "deny") or 500 (service refused the
 * call), with a JSON body `{ error: { code, message } }`.
 */
export function keyward(options: MiddlewareOptions<Context> & KeywardHonoOptions): KeywardHonoMiddleware {
  const guard = createGuard<Context>(options);
  const ipOf = options.ip ?? nodePeer;
  const middleware: MiddlewareHandler<{ Variables: { keyward: PassedVerification } }> = async (c, next) => {
    const outcome = await guard.check(c, {
      header: (name) => c.req.header(name),
      ip: ipOf(c),
      method: c.req.method,
      path: c.req.path,
    });
    if (outcome.denial !== undefined) {
      return c.json(outcome.denial.body, outcome.denial.status as 401, outcome.denial.headers);
    }
    c.set("keyward", outcome.pass);
    await next();
    return undefined;
  };
  return Object.assign(middleware, { verifier: guard.verifier, close: () => guard.close() });
}

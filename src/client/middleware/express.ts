/**
 * Express (4 or 5) middleware: `app.use(keyward({ target, onUnavailable }))`.
 * A request it lets through carries the verification on `req.keyward`.
 */
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { createGuard, type MiddlewareOptions, pathOf } from "../http.js";
import type { PassedVerification } from "../result.js";
import type { Verifier } from "../verifier.js";

declare global {
  namespace Express {
    interface Request {
      /** Set by keyward(): the valid key (`.key`), or an unchecked pass (`.checked === false`) under onUnavailable "allow". */
      keyward?: PassedVerification;
    }
  }
}

export interface KeywardExpressOptions {
  /** The end user's address; default `req.ip` (which follows Express's "trust proxy" setting). */
  ip?: (req: Request) => string | undefined;
}

export type KeywardExpressMiddleware = RequestHandler & {
  readonly verifier: Verifier;
  /** Closes the verifier if the middleware created it. */
  close(): void;
};

/**
 * Refuses a request without a valid key: 401, 403, 429 (with Retry-After),
 * 503 (service unreachable, onUnavailable "deny") or 500 (service refused the
 * call), with a JSON body `{ error: { code, message } }`.
 */
export function keyward(options: MiddlewareOptions<Request> & KeywardExpressOptions): KeywardExpressMiddleware {
  const guard = createGuard<Request>(options);
  const ipOf = options.ip ?? ((req: Request) => req.ip ?? req.socket.remoteAddress);
  const middleware = (req: Request, res: Response, next: NextFunction) => {
    void guard
      .check(req, {
        header: (name) => {
          const value = req.headers[name];
          return Array.isArray(value) ? value[0] : value;
        },
        ip: ipOf(req),
        method: req.method,
        path: pathOf(req.originalUrl),
      })
      .then((outcome) => {
        if (outcome.denial !== undefined) {
          res.status(outcome.denial.status).set(outcome.denial.headers).json(outcome.denial.body);
          return;
        }
        req.keyward = outcome.pass;
        next();
      }, next);
  };
  return Object.assign(middleware, { verifier: guard.verifier, close: () => guard.close() });
}

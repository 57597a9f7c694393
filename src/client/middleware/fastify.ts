/**
 * Fastify 5 hook: `app.addHook("onRequest", keyward({ target, onUnavailable }))`,
 * or per route `{ onRequest: keyward({...}) }`. A request it lets through
 * carries the verification on `request.keyward`.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { createGuard, type MiddlewareOptions, pathOf } from "../http.js";
import type { PassedVerification } from "../result.js";
import type { Verifier } from "../verifier.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Set by keyward(): the valid key (`.key`), or an unchecked pass (`.checked === false`) under onUnavailable "allow". */
    keyward?: PassedVerification;
  }
}

export interface KeywardFastifyOptions {
  /** The end user's address; default `request.ip` (which follows Fastify's trustProxy). */
  ip?: (request: FastifyRequest) => string | undefined;
}

export type KeywardFastifyHook = ((
  request: FastifyRequest,
  reply: FastifyReply,
) => Promise<FastifyReply | undefined>) & {
  readonly verifier: Verifier;
  /** Closes the verifier if the hook created it. */
  close(): void;
};

/**
 * Refuses a request without a valid key: 401, 403, 429 (with Retry-After),
 * 503 (service unreachable, onUnavailable "deny") or 500 (service refused the
 * call), with a JSON body `{ error: { code, message } }`.
 */
export function keyward(options: MiddlewareOptions<FastifyRequest> & KeywardFastifyOptions): KeywardFastifyHook {
  const guard = createGuard<FastifyRequest>(options);
  const ipOf = options.ip ?? ((request: FastifyRequest) => request.ip);
  const hook = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const outcome = await guard.check(request, {
      header: (name) => {
        const value = request.headers[name];
        return Array.isArray(value) ? value[0] : value;
      },
      ip: ipOf(request),
      method: request.method,
      path: pathOf(request.url),
    });
    if (outcome.denial !== undefined) {
      return reply.code(outcome.denial.status).headers(outcome.denial.headers).send(outcome.denial.body);
    }
    request.keyward = outcome.pass;
    return undefined;
  };
  return Object.assign(hook, { verifier: guard.verifier, close: () => guard.close() });
}

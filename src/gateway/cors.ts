import type { IncomingMessage, ServerResponse } from "node:http";
import { sendError } from "./http-responses.js";

/** What a page of an allowed origin may send: the admin's key, JSON, and tRPC's streaming switch. */
const ALLOWED_HEADERS = "authorization, content-type, trpc-accept, x-trpc-source";
const ALLOWED_METHODS = "GET, HEAD, POST";
const PREFLIGHT_MAX_AGE_SECONDS = 600;

export interface CorsPolicy {
  /**
   * Adds the CORS headers a request from an allowed origin gets. Answers a
   * preflight itself (204 for an allowed origin, 403 for any other) and then
   * returns true: the request is done.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * CORS for KEYWARD_CORS_ORIGINS. With none (the default) no browser page on
 * another origin may call the gateway: no Access-Control-* header is ever
 * sent and every preflight is refused. Credentials are the Authorization
 * header, never cookies, so Access-Control-Allow-Credentials is not sent.
 */
export function createCorsPolicy(origins: readonly string[]): CorsPolicy {
  const allowed = new Set(origins);
  return {
    handle(req, res) {
      // Answers differ by Origin once any origin is allowed: caches must know,
      // whatever Vary the handler sets later (tRPC sets its own).
      if (allowed.size > 0) varyOnOrigin(res);
      const origin = req.headers.origin;
      const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
      const ok = origin !== undefined && allowed.has(origin);
      if (ok) {
        res.setHeader("access-control-allow-origin", origin);
        res.setHeader("access-control-expose-headers", "content-disposition");
      }
      if (!preflight) return false;
      if (!ok) {
        sendError(res, 403, "FORBIDDEN", -32003, "this origin may not call the gateway (KEYWARD_CORS_ORIGINS)");
        return true;
      }
      res.writeHead(204, {
        "access-control-allow-methods": ALLOWED_METHODS,
        "access-control-allow-headers": ALLOWED_HEADERS,
        "access-control-max-age": String(PREFLIGHT_MAX_AGE_SECONDS),
      });
      res.end();
      return true;
    },
  };
}

/** Sets Vary: Origin and keeps it in any Vary set after this, by merging. */
function varyOnOrigin(res: ServerResponse): void {
  const setHeader = res.setHeader.bind(res);
  res.setHeader = (name: string, value: number | string | readonly string[]) => {
    if (name.toLowerCase() !== "vary") return setHeader(name, value);
    const values = new Set(
      [String(res.getHeader("vary") ?? ""), ...(Array.isArray(value) ? value : [String(value)])]
        .flatMap((v) => v.split(","))
        .map((v) => v.trim())
        .filter((v) => v !== ""),
    );
    return setHeader("vary", [...values].join(", "));
  };
  res.setHeader("vary", "Origin");
}

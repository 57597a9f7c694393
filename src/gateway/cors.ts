import cors from "@fastify/cors";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { errorAnswer } from "./errors.js";

/** What a page of an allowed origin may send: the admin's key, JSON, and tRPC's streaming switch. */
const ALLOWED_HEADERS = "authorization, content-type, trpc-accept, x-trpc-source";
const ALLOWED_METHODS = "GET, HEAD, POST";
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * CORS for KEYWARD_CORS_ORIGINS, by @fastify/cors. With none (the default)
 * no browser page on another origin may call the gateway: the plugin is not
 * registered, no Access-Control-* header is ever sent. Every preflight of an
 * origin not named is refused with 403 (the plugin alone would let it fall
 * through to a 404). Credentials are the Authorization header, never
 * cookies, so Access-Control-Allow-Credentials is not sent.
 */
export async function registerCors(app: FastifyInstance, origins: readonly string[]): Promise<void> {
  const allowed = new Set(origins);
  app.addHook("onRequest", async (request, reply) => {
    if (!isPreflight(request) || allowed.has(request.headers.origin ?? "")) return;
    return reply
      .code(403)
      .send(errorAnswer(403, "FORBIDDEN", "this origin may not call the gateway (KEYWARD_CORS_ORIGINS)"));
  });
  if (allowed.size === 0) return;
  await app.register(cors, {
    // Exact origins only; false sends no CORS header at all (not even Expose-Headers).
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    methods: ALLOWED_METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: "content-disposition",
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
    credentials: false,
    strictPreflight: false,
  });
  // Answers differ by Origin. tRPC answers with a Response whose own Vary
  // (trpc-accept, accept) Fastify copies over the plugin's after this hook, so
  // Origin is put in front of the Vary of whichever will be sent.
  app.addHook("onSend", async (_request, reply, payload) => {
    const target = payload instanceof Response ? payload.headers : undefined;
    const current = target ? target.get("vary") : reply.getHeader("vary");
    const vary = withOrigin(String(current ?? ""));
    if (target) target.set("vary", vary);
    else reply.header("vary", vary);
    return payload;
  });
}

function isPreflight(request: FastifyRequest): boolean {
  return request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined;
}

function withOrigin(vary: string): string {
  const others = vary
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "" && v.toLowerCase() !== "origin");
  return ["Origin", ...others].join(", ");
}

import helmet from "@fastify/helmet";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "../shared/logger.js";
import { codeOfStatus, errorAnswer } from "./errors.js";

/**
 * The API returns keys (and tokens, once), so nothing is cached, framed or
 * sniffed. helmet's own Content-Security-Policy joins directives with ";"
 * and no space; this exact header is what browsers and our checks expect.
 * No HSTS: the gateway speaks plain HTTP and TLS is terminated in front of it.
 */
const CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";

/**
 * Security headers on every answer the gateway routes: results, tRPC errors,
 * 404s, framework errors and preflight answers. @fastify/helmet sets them in
 * an onRequest hook, the first hook of every request, so an answer given by a
 * later hook (CORS) or the error handler still has them. CORS headers are
 * cors.ts's: none unless KEYWARD_CORS_ORIGINS names origins.
 */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: false,
    strictTransportSecurity: false,
    xFrameOptions: { action: "deny" },
    referrerPolicy: { policy: "no-referrer" },
    crossOriginResourcePolicy: { policy: "same-origin" },
  });
  app.addHook("onRequest", async (_request, reply) => {
    setOwnHeaders(reply);
  });
}

function setOwnHeaders(reply: FastifyReply): void {
  reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
  reply.header("cache-control", "no-store");
}

/**
 * The framework's own answers (body limit, media type, unknown path, a bad
 * URL) in tRPC's error envelope, so that the CLI reads them as it reads a
 * procedure's error. A 5xx says only that it failed: the details are logged.
 */
export function registerErrorAnswers(
  app: FastifyInstance,
  logger: Logger,
  maxBodyBytes: number,
  /** Answers what is a console page instead (returns true when it did). */
  consolePage: (request: FastifyRequest, reply: FastifyReply) => boolean = () => false,
): void {
  app.setNotFoundHandler((request, reply) => {
    if (consolePage(request, reply)) return;
    reply.code(404).send(errorAnswer(404, "NOT_FOUND", `no such path: ${pathOf(request)}`));
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = typeof error.statusCode === "number" && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) logger.error({ err: error, path: pathOf(request) }, "request failed");
    reply.code(status).send(errorAnswer(status, codeOfStatus(status), messageOf(error, status, maxBodyBytes)));
  });
}

/**
 * The two failures the router answers before any hook runs (a path segment
 * that is not valid percent-encoding, one longer than maxParamLength): the
 * same envelope, and the security headers set here since no hook ran.
 */
export function frameworkErrorAnswer(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  for (const [name, value] of Object.entries(PLAIN_SECURITY_HEADERS)) reply.header(name, value);
  setOwnHeaders(reply);
  const status = error.statusCode ?? 400;
  reply.code(status).send(errorAnswer(status, codeOfStatus(status), "the URL is not valid"));
}

/** What helmet sets with the options above, for the answers given before its hook can run. */
const PLAIN_SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
};

function messageOf(error: FastifyError, status: number, maxBodyBytes: number): string {
  if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") return `the request body exceeds ${maxBodyBytes} bytes`;
  if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return "unsupported content type: send application/json";
  if (status >= 500) return "internal server error";
  return error.message;
}

/** The path only: the query string holds a procedure's input. */
export function pathOf(request: FastifyRequest): string {
  return request.url.split("?", 1)[0] as string;
}

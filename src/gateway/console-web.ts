import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import fastifyCookie from "@fastify/cookie";
import rateLimit from "@fastify/rate-limit";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Config } from "../config.js";
import type { Logger } from "../shared/logger.js";
import { CSRF_COOKIE, CSRF_HEADER, type NewSession, SESSION_COOKIE, type SessionStore } from "./console-session.js";
import type { WebSession } from "./context.js";
import { errorAnswer } from "./errors.js";
import { pathOf } from "./http-responses.js";

/**
 * The web console's HTTP side: its built files (dist/console, made by
 * `npm run build`), the fallback of its client routes to index.html, its
 * Content-Security-Policy, the session cookies and the sign-in rate limit.
 */

/** Where `vite build` writes the console: dist/console, both from src/gateway (tsx) and dist/gateway. */
export const CONSOLE_DIR = resolve(import.meta.dirname, "../../dist/console");

/**
 * The console's pages may load scripts, styles, images and data from the
 * gateway's own origin only: no inline script, no CDN, no framing.
 */
export const CONSOLE_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Paths that are never a console page, whatever the browser asks for. */
const NOT_CONSOLE = /^\/(trpc|assets|metrics|healthz)(\/|$)/;

export interface ConsoleOptions {
  logger: Logger;
  /** Defaults to CONSOLE_DIR. */
  dir?: string;
}

/**
 * Serves the console: GET / and every client route (a browser navigation,
 * Accept: text/html, to a path without a file extension outside /trpc,
 * /assets, /metrics and /healthz) answer index.html with `no-cache`; the
 * hashed files under /assets/ are cached for a year (`immutable`). Returns
 * the not-found fallback for registerErrorAnswers. Without a built console,
 * pages answer 404 saying how to build it.
 */
export async function registerConsole(
  app: FastifyInstance,
  options: ConsoleOptions,
): Promise<(request: FastifyRequest, reply: FastifyReply) => boolean> {
  const dir = options.dir ?? CONSOLE_DIR;
  const indexPath = resolve(dir, "index.html");
  const index = existsSync(indexPath) ? readFileSync(indexPath) : undefined;
  if (!index) options.logger.warn({ dir }, "the web console is not built (npm run build): / answers 404");

  if (existsSync(resolve(dir, "assets"))) {
    await app.register(fastifyStatic, {
      root: resolve(dir, "assets"),
      prefix: "/assets/",
      decorateReply: false,
      index: false,
      dotfiles: "deny",
      // File names carry their content's hash: a changed file is a new name.
      cacheControl: true,
      maxAge: 365 * 86_400_000,
      immutable: true,
      etag: false,
      lastModified: false,
      preCompressed: false,
    });
  }

  const sendIndex = (reply: FastifyReply) => {
    if (!index) {
      return reply
        .code(404)
        .send(errorAnswer(404, "NOT_FOUND", "the web console is not built: run npm run build (npm ci does)"));
    }
    return reply
      .code(200)
      .header("content-type", "text/html; charset=utf-8")
      .header("cache-control", "no-cache")
      .header("content-security-policy", CONSOLE_CONTENT_SECURITY_POLICY)
      .send(index);
  };

  app.get("/", (_request, reply) => sendIndex(reply));

  return (request, reply) => {
    if (request.method !== "GET" && request.method !== "HEAD") return false;
    const path = pathOf(request);
    const last = path.slice(path.lastIndexOf("/") + 1);
    if (NOT_CONSOLE.test(path) || last.includes(".") || !wantsHtml(request)) return false;
    void sendIndex(reply);
    return true;
  };
}

/** A browser navigation: its Accept names text/html. */
export function wantsHtml(request: FastifyRequest): boolean {
  return /\btext\/html\b/i.test(request.headers.accept ?? "");
}

/**
 * @fastify/cookie for reading and setting the session cookies, and the
 * sign-in limit per client address (@fastify/rate-limit, applied to
 * session.signIn calls only).
 */
export async function registerSessionPlumbing(app: FastifyInstance, config: Config): Promise<void> {
  await app.register(fastifyCookie);
  await app.register(rateLimit, {
    global: true,
    max: config.KEYWARD_SIGNIN_PER_MINUTE,
    timeWindow: 60_000,
    keyGenerator: (request) => request.ip,
    // Every other request passes untouched.
    allowList: (request) => !isSignIn(request),
    addHeadersOnExceeding: { "x-ratelimit-limit": false, "x-ratelimit-remaining": false, "x-ratelimit-reset": false },
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      message: `too many sign-in attempts from your address: try again in ${Math.ceil(context.ttl / 1000)} s`,
    }),
  });
}

function isSignIn(request: FastifyRequest): boolean {
  const path = pathOf(request);
  return path.startsWith("/trpc/") && path.slice(6).split(",").includes("session.signIn");
}

/**
 * The WebSession of one request: its cookie and CSRF header, and the cookie
 * setters. `Secure` when the request came over HTTPS or the gateway's public
 * URL is https (TLS ends in front of it).
 */
export function createWebSessions(config: Config, sessions: SessionStore) {
  const httpsPublic = config.KEYWARD_PUBLIC_URL?.startsWith("https:") === true;
  return (request: FastifyRequest, reply: FastifyReply): WebSession => {
    const secure = httpsPublic || request.protocol === "https";
    const csrf = request.headers[CSRF_HEADER];
    return {
      sessions,
      cookie: request.cookies?.[SESSION_COOKIE] || undefined,
      csrfHeader: typeof csrf === "string" && csrf !== "" ? csrf : undefined,
      start(session: NewSession) {
        const maxAge = Math.floor(sessions.ttlMs / 1000);
        const base = { path: "/", sameSite: "strict", secure, maxAge } as const;
        reply.setCookie(SESSION_COOKIE, session.cookie, { ...base, httpOnly: true });
        // Read by the console's script and sent back as the x-keyward-csrf header.
        reply.setCookie(CSRF_COOKIE, session.csrf, { ...base, httpOnly: false });
      },
      end() {
        const base = { path: "/", sameSite: "strict", secure } as const;
        reply.clearCookie(SESSION_COOKIE, { ...base, httpOnly: true });
        reply.clearCookie(CSRF_COOKIE, { ...base, httpOnly: false });
      },
    };
  };
}

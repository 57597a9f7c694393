import { TRPCError } from "@trpc/server";
import type { VerifyKeyResponse } from "../gen/keyward/v1/verify_pb.js";
import { verifyCodeWords } from "../shared/contract/enums.js";
import { ADMIN_SCOPE, MEMBER_SCOPE } from "../shared/contract/scopes.js";
import { CSRF_HEADER, csrfMatches } from "./console-session.js";
import { type GatewayContext, REPEATED_AUTHORIZATION, type WebSession } from "./context.js";
import { middleware, publicProcedure } from "./trpc.js";

/**
 * Admins are keys too (SPEC §4): the caller presents a Keyward token, the
 * gateway verifies it with VerifyKey on every request (no cache, so a revoked
 * admin key fails on the very next call), and the key's scopes say who it is.
 */

export { ADMIN_SCOPE, MEMBER_SCOPE };

export type Role = "admin" | "member";

/** The person behind a request. */
export interface Principal {
  role: Role;
  /** From the key's claims.email; `key:<id>` for a console key without one. */
  email: string;
  keyId: string;
  keyName: string;
  scopes: string[];
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? "");
  return match?.[1];
}

/**
 * Verifies the caller's key and derives their role; throws UNAUTHORIZED,
 * FORBIDDEN or TOO_MANY_REQUESTS. The key comes from the Authorization
 * header (the CLI, curl) or, without one, from the console's session cookie.
 */
export async function authenticate(ctx: GatewayContext): Promise<Principal> {
  if (ctx.authorization === REPEATED_AUTHORIZATION) {
    throw new TRPCError({ code: "UNAUTHORIZED", message: "send exactly one Authorization header" });
  }
  if (ctx.authorization === undefined && ctx.web?.cookie !== undefined) return authenticateSession(ctx, ctx.web);
  const token = bearerToken(ctx.authorization);
  if (!token) {
    throw new TRPCError({
      code: "UNAUTHORIZED",
      message:
        ctx.authorization === undefined
          ? "missing Authorization header: send Authorization: Bearer <your Keyward admin key>"
          : "the Authorization header must be Bearer <your Keyward admin key>",
    });
  }
  return verifyConsoleKey(ctx, token);
}

/** A console session's key, verified as a Bearer token is; a key that no longer passes ends the session. */
async function authenticateSession(ctx: GatewayContext, web: WebSession): Promise<Principal> {
  const session = await web.sessions.open(web.cookie);
  if (!session) {
    web.end();
    throw new TRPCError({ code: "UNAUTHORIZED", message: "your console session has ended: sign in again" });
  }
  try {
    return await verifyConsoleKey(ctx, session.token);
  } catch (error) {
    // Revoked, disabled, expired, no longer a console key: the session ends with it. Rate limits only wait.
    if (error instanceof TRPCError && (error.code === "UNAUTHORIZED" || error.code === "FORBIDDEN")) {
      // The entry can never pass again and Redis drops it at its TTL: failing to delete it now must not hide the 401.
      await web.sessions.destroy(web.cookie).catch(() => undefined);
      web.end();
    }
    throw error;
  }
}

/**
 * Changes made with a session cookie must carry the session's CSRF token in
 * the x-keyward-csrf header (double submit: a page of another site can make
 * the browser send the cookie, but cannot read the token). Bearer calls are
 * not affected: no browser adds an Authorization header on its own.
 */
export async function requireCsrf(ctx: GatewayContext): Promise<void> {
  if (ctx.authorization !== undefined || ctx.web?.cookie === undefined) return;
  const session = await ctx.web.sessions.open(ctx.web.cookie);
  // No session: authentication refuses the call with the reason.
  if (session && !csrfMatches(session.csrf, ctx.web.csrfHeader)) {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: `a change made with the console's session needs its ${CSRF_HEADER} header; reload the console`,
    });
  }
}

/** Verifies a token with VerifyKey and derives the console role its scopes give. */
export async function verifyConsoleKey(ctx: GatewayContext, token: string): Promise<Principal> {
  const { ip, method, path, userAgent } = ctx.request;
  const response = await ctx.service.verifyKey({
    token,
    // Unset fields are omitted: the service treats "" as a value to validate.
    context: {
      ...(ip ? { ip } : {}),
      ...(method ? { method } : {}),
      ...(path ? { path } : {}),
      ...(userAgent ? { userAgent } : {}),
      tags: { via: "gateway" },
    },
  });
  if (!response.valid || !response.key) throw rejection(response);
  const key = response.key;
  const role: Role | undefined = key.scopes.includes(ADMIN_SCOPE)
    ? "admin"
    : key.scopes.includes(MEMBER_SCOPE)
      ? "member"
      : undefined;
  if (!role) {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: `this key is not a console key: it needs the scope ${ADMIN_SCOPE} or ${MEMBER_SCOPE}`,
    });
  }
  const email = key.claims?.email;
  return {
    role,
    email: typeof email === "string" && email.trim() !== "" ? email.trim() : `key:${key.id}`,
    keyId: key.id,
    keyName: key.name,
    scopes: [...key.scopes],
  };
}

function rejection(response: VerifyKeyResponse): TRPCError {
  const code = verifyCodeWords.word(response.code);
  switch (code) {
    case "rate_limited":
    case "usage_exceeded":
      return new TRPCError({ code: "TOO_MANY_REQUESTS", message: `this key is ${code.replace("_", " ")}` });
    case "revoked":
      return new TRPCError({ code: "UNAUTHORIZED", message: "this key has been revoked" });
    case "expired":
      return new TRPCError({ code: "UNAUTHORIZED", message: "this key has expired" });
    case "disabled":
      return new TRPCError({ code: "UNAUTHORIZED", message: "this key is disabled" });
    case "ip_not_allowed":
      return new TRPCError({ code: "UNAUTHORIZED", message: "this key may not be used from your address" });
    default:
      // malformed, not_found: say nothing that helps guess tokens.
      return new TRPCError({ code: "UNAUTHORIZED", message: "invalid API key" });
  }
}

/**
 * Every call of a batch is authenticated when it starts. Reads share one
 * verification of the key; a change waits for the batch's earlier changes,
 * and once one has run the key is verified again, so a batch that revokes or
 * disables its own key (`[keys.delete self, keys.create, …]`) makes no change
 * after that: the later calls answer UNAUTHORIZED.
 */
const authenticated = middleware(async ({ ctx, type, next }) => {
  if (type === "mutation") await requireCsrf(ctx);
  const earlierChanges = ctx.memo.changes;
  const run = async () => {
    if (earlierChanges !== undefined) await earlierChanges.catch(() => undefined);
    ctx.memo.principal ??= authenticate(ctx);
    const principal = await ctx.memo.principal;
    return next({ ctx: { principal } });
  };
  if (type !== "mutation") return run();
  const change = run().finally(() => {
    ctx.memo.principal = undefined;
  });
  ctx.memo.changes = change;
  return change;
});

/** Any console key: admins and members may read everything. */
export const memberProcedure = publicProcedure.use(authenticated);

/** Only console:admin keys: every change to keys (and exports). */
export const adminProcedure = memberProcedure.use(({ ctx, next }) => {
  if (ctx.principal.role !== "admin") {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: `members can only read; this needs a key with the scope ${ADMIN_SCOPE}`,
    });
  }
  return next();
});

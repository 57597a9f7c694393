import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { verifyConsoleKey } from "../../auth.js";
import { CSRF_HEADER } from "../../console-session.js";
import { publicProcedure } from "../../trpc.js";

export const SignInInputSchema = z.strictObject({
  /** A console key's token (scope console:admin or console:member), pasted once. */
  apiKey: z.string().trim().min(1, "paste your API key").max(200, "is not a Keyward API key"),
});

/**
 * session.signIn: checks the key as a Bearer call is checked, then starts a
 * console session (an HttpOnly cookie; console-session.ts). The token is
 * never sent back. Rate-limited per client address (server.ts).
 */
export const signIn = publicProcedure.input(SignInInputSchema).mutation(async ({ ctx, input }) => {
  const web = ctx.web;
  if (!web) throw new TRPCError({ code: "PRECONDITION_FAILED", message: "sign-in needs the gateway's HTTP server" });
  // A custom header cannot be sent by another site's page without a preflight, which the gateway refuses.
  if (!web.csrfHeader) {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: `sign in from the console (it sends the ${CSRF_HEADER} header)`,
    });
  }
  const principal = await verifyConsoleKey(ctx, input.apiKey);
  // Redis down: SessionsUnavailableError, answered 503 (errors.ts), and no cookie is set.
  await web.sessions.destroy(web.cookie);
  const session = await web.sessions.create(input.apiKey);
  web.start(session);
  const { email, role, keyId, keyName, scopes } = principal;
  return { email, role, keyId, keyName, scopes, expiresAt: new Date(session.expiresAt).toISOString() };
});

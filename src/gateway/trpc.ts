import { initTRPC, TRPCError } from "@trpc/server";
import type { GatewayContext } from "./context.js";
import { fromServiceError, inputIssues, publicMessage } from "./errors.js";

/**
 * The gateway's one tRPC instance. No data transformer: inputs and outputs
 * are plain JSON (timestamps as ISO strings) so curl can call every procedure.
 */
const t = initTRPC.context<GatewayContext>().create({
  // Never a stack in an answer: isDev defaults to NODE_ENV !== "production",
  // and with it every error answer carried a stack trace with server paths.
  isDev: false,
  errorFormatter({ shape, error }) {
    // A 400 names the field: "name: must be 1-100 characters", data.field = "name".
    const issues = error.code === "BAD_REQUEST" ? inputIssues(error) : undefined;
    return {
      ...shape,
      message: issues ? issues.map((i) => `${i.field}: ${i.message}`).join("; ") : publicMessage(error, shape.message),
      data: { ...shape.data, field: issues?.[0]?.field ?? null, issues: issues ?? null },
    };
  },
});

export const router = t.router;
export const middleware = t.middleware;
export const createCallerFactory = t.createCallerFactory;

/**
 * Maps the service's errors once, for every procedure: whatever calls the
 * service below this (auth, resolvers) may let a ConnectError escape.
 */
const serviceErrors = t.middleware(async ({ ctx, next }) => {
  const result = await next();
  if (!result.ok) {
    const mapped = fromServiceError(result.error.cause, ctx.logger);
    if (mapped instanceof TRPCError) throw mapped;
  }
  return result;
});

/** No authentication; only for what needs none. Every key procedure uses memberProcedure or adminProcedure (auth.ts). */
export const publicProcedure = t.procedure.use(serviceErrors);

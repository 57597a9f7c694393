import { z } from "zod";
import { LeakAction } from "../../../gen/keyward/v1/webhook_pb.js";
import { asPrincipal } from "../../../shared/contract/service-client.js";
import { adminProcedure } from "../../auth.js";

export const ReportLeakInputSchema = z.strictObject({
  /** The token as found; it is never logged or stored. */
  token: z.string().min(1, "is required").max(200, "is not a Keyward token"),
  /** Where it was found. */
  url: z.string().trim().min(1, "is required: where the token was found").max(2048, "must be at most 2048 characters"),
  /** revoke (the default) or disable. */
  action: z.enum(["revoke", "disable"], "must be revoke or disable").optional(),
});

/**
 * keys.reportLeak: an admin found a token in public. A live key is revoked
 * (or disabled) at once, audited with the admin as its source, announced
 * (key.leaked) and mailed; `truePositive` says whether it was one.
 */
export const reportLeak = adminProcedure.input(ReportLeakInputSchema).mutation(async ({ ctx, input }) => {
  const response = await ctx.service.reportLeak(
    {
      token: input.token,
      url: input.url,
      source: ctx.principal.email,
      action: input.action === "disable" ? LeakAction.DISABLE : LeakAction.REVOKE,
    },
    asPrincipal(ctx.principal),
  );
  return { truePositive: response.truePositive, keyId: response.keyId || null };
});

import { z } from "zod";
import { keyJson, required } from "../../../shared/contract/json.js";
import { asPrincipal } from "../../../shared/contract/service-client.js";
import { adminProcedure } from "../../auth.js";
import { EtagSchema, GracePeriodSecondsSchema, IdSchema } from "../../schemas.js";

export const RotateKeyInputSchema = z.strictObject({
  id: IdSchema,
  /** How long the old key keeps working; 0 (the default, as in the proto) revokes it now. */
  gracePeriodSeconds: GracePeriodSecondsSchema.optional(),
  etag: EtagSchema.optional(),
});

/** keys.rotate: a new key like the old one; its token is shown this once. */
export const rotate = adminProcedure.input(RotateKeyInputSchema).mutation(async ({ ctx, input }) => {
  const response = await ctx.service.rotateKey(
    { id: input.id, gracePeriodSeconds: input.gracePeriodSeconds ?? 0, etag: input.etag ?? "" },
    asPrincipal(ctx.principal),
  );
  return {
    key: keyJson(required(response.key, "the new key")),
    token: response.token,
    previousKey: keyJson(required(response.previousKey, "the previous key")),
  };
});

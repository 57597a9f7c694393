import { z } from "zod";
import { adminProcedure } from "../../auth.js";
import { keyJson, required } from "../../json.js";
import { IdSchema, ReasonSchema } from "../../schemas.js";
import { asActor } from "../../service-client.js";

export const DeleteKeyInputSchema = z.strictObject({
  id: IdSchema,
  /** Kept as the key's revocation_reason. */
  reason: ReasonSchema.optional(),
});

/** keys.delete: revokes the key at once; it stays listed, with status revoked. */
export const deleteKey = adminProcedure.input(DeleteKeyInputSchema).mutation(async ({ ctx, input }) => {
  const response = await ctx.service.deleteKey(
    { id: input.id, reason: input.reason ?? "" },
    asActor(ctx.principal.email),
  );
  return keyJson(required(response.key, "the key"));
});

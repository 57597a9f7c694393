import { z } from "zod";
import { keyJson, required } from "../../../shared/contract/json.js";
import { asPrincipal } from "../../../shared/contract/service-client.js";
import { adminProcedure } from "../../auth.js";
import { EtagSchema, IdSchema, ReasonSchema } from "../../schemas.js";

export const DeleteKeyInputSchema = z.strictObject({
  id: IdSchema,
  /** Kept as the key's revocation_reason. */
  reason: ReasonSchema.optional(),
  etag: EtagSchema.optional(),
});

/** keys.delete: revokes the key at once; it stays listed, with status revoked. */
export const deleteKey = adminProcedure.input(DeleteKeyInputSchema).mutation(async ({ ctx, input }) => {
  const response = await ctx.service.deleteKey(
    { id: input.id, reason: input.reason ?? "", etag: input.etag ?? "" },
    asPrincipal(ctx.principal),
  );
  return keyJson(required(response.key, "the key"));
});

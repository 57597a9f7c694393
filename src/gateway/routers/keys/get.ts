import { z } from "zod";
import { keyJson, required } from "../../../shared/contract/json.js";
import { memberProcedure } from "../../auth.js";
import { IdSchema } from "../../schemas.js";

export const GetKeyInputSchema = z.strictObject({ id: IdSchema });

/** keys.get: one key, whatever its status. */
export const get = memberProcedure.input(GetKeyInputSchema).query(async ({ ctx, input }) => {
  const response = await ctx.service.getKey({ id: input.id });
  return keyJson(required(response.key, "the key"));
});

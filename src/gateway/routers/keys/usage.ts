import { z } from "zod";
import { toGranularity } from "../../../shared/contract/enums.js";
import { usageBucketJson } from "../../../shared/contract/json.js";
import { memberProcedure } from "../../auth.js";
import { defined, timestamp } from "../../request.js";
import { GranularitySchema, IdSchema, TimeSchema } from "../../schemas.js";

export const KeyUsageInputSchema = z.strictObject({
  id: IdSchema,
  /** Default: 24 hours (hour) or 30 days (day) before `to`. */
  from: TimeSchema.optional(),
  /** Default: now. */
  to: TimeSchema.optional(),
  granularity: GranularitySchema.optional(),
});

/** keys.usage: verifications per hour or day and per outcome, oldest bucket first. */
export const usage = memberProcedure.input(KeyUsageInputSchema).query(async ({ ctx, input }) => {
  const response = await ctx.service.getKeyUsage(
    defined({
      id: input.id,
      fromTime: timestamp(input.from),
      toTime: timestamp(input.to),
      granularity: input.granularity && toGranularity(input.granularity),
    }),
  );
  return { buckets: response.buckets.map(usageBucketJson), total: Number(response.total) };
});

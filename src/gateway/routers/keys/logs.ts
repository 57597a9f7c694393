import { z } from "zod";
import { toVerifyCode } from "../../../shared/contract/enums.js";
import { keyLogJson, nextPage } from "../../../shared/contract/json.js";
import { memberProcedure } from "../../auth.js";
import { defined, timestamp } from "../../request.js";
import { IdSchema, PageSchema, TimeSchema, VerifyCodeSchema } from "../../schemas.js";

export const KeyLogsInputSchema = z.strictObject({
  id: IdSchema,
  ...PageSchema,
  /** Only this outcome. */
  code: VerifyCodeSchema.optional(),
  from: TimeSchema.optional(),
  to: TimeSchema.optional(),
});

/** keys.logs: the key's recent verifications, newest first. */
export const logs = memberProcedure.input(KeyLogsInputSchema).query(async ({ ctx, input }) => {
  const response = await ctx.service.listKeyLogs(
    defined({
      id: input.id,
      pageSize: input.pageSize,
      pageToken: input.pageToken,
      code: input.code && toVerifyCode(input.code),
      fromTime: timestamp(input.from),
      toTime: timestamp(input.to),
    }),
  );
  return { logs: response.logs.map(keyLogJson), nextPageToken: nextPage(response.nextPageToken) };
});

import { z } from "zod";
import { auditEventJson, nextPage } from "../../../shared/contract/json.js";
import { memberProcedure } from "../../auth.js";
import { defined, timestamp } from "../../request.js";
import { IdSchema, PageSchema, TimeSchema } from "../../schemas.js";

export const ListAuditInputSchema = z
  .strictObject({
    ...PageSchema,
    keyId: IdSchema.optional(),
    /** An admin's email, "service" or "bootstrap". */
    actor: z.string().trim().min(1, "must not be empty").max(320, "must be at most 320 characters").optional(),
    /** e.g. key.create, key.update, key.delete, key.rotate. */
    action: z.string().trim().min(1, "must not be empty").max(64, "must be at most 64 characters").optional(),
    from: TimeSchema.optional(),
    to: TimeSchema.optional(),
  })
  .optional();

/** audit.list: who did what to which key, newest first. */
export const list = memberProcedure.input(ListAuditInputSchema).query(async ({ ctx, input = {} }) => {
  const response = await ctx.service.listAuditEvents(
    defined({
      pageSize: input.pageSize,
      pageToken: input.pageToken,
      keyId: input.keyId,
      actor: input.actor,
      action: input.action,
      fromTime: timestamp(input.from),
      toTime: timestamp(input.to),
    }),
  );
  return { events: response.events.map(auditEventJson), nextPageToken: nextPage(response.nextPageToken) };
});

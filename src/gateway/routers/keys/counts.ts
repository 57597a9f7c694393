import { z } from "zod";
import { KEY_STATUS_WORDS, type KeyStatusWord, toKeyStatus, toPermission } from "../../../shared/contract/enums.js";
import { memberProcedure } from "../../auth.js";
import { defined } from "../../request.js";
import { PermissionSchema, SubjectSchema } from "../../schemas.js";

export const KeyCountsInputSchema = z
  .strictObject({
    permission: PermissionSchema.optional(),
    subject: SubjectSchema.optional(),
    nameContains: z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters").optional(),
  })
  .optional();

/** keys.counts: how many keys of each status match the other filters (the console's status tabs). */
export const counts = memberProcedure.input(KeyCountsInputSchema).query(async ({ ctx, input = {} }) => {
  const filters = defined({
    permission: input.permission && toPermission(input.permission),
    subject: input.subject,
    nameContains: input.nameContains,
  });
  const answers = await Promise.all(
    KEY_STATUS_WORDS.map((status) => ctx.service.countKeys({ ...filters, status: toKeyStatus(status) })),
  );
  const byStatus = Object.fromEntries(KEY_STATUS_WORDS.map((status, i) => [status, Number(answers[i]?.count ?? 0)]));
  return byStatus as Record<KeyStatusWord, number>;
});

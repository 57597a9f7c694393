import { z } from "zod";
import { toKeyStatus, toPermission } from "../../../shared/contract/enums.js";
import { keyJson, nextPage } from "../../../shared/contract/json.js";
import { memberProcedure } from "../../auth.js";
import { defined } from "../../request.js";
import {
  DomainIdSchema,
  KeyStatusSchema,
  PageSchema,
  PermissionSchema,
  ScopeSchema,
  SubjectSchema,
} from "../../schemas.js";

export const ListKeysInputSchema = z
  .strictObject({
    ...PageSchema,
    status: KeyStatusSchema.optional(),
    permission: PermissionSchema.optional(),
    subject: SubjectSchema.optional(),
    domainId: DomainIdSchema.optional(),
    /** Case-insensitive substring of the name. */
    nameContains: z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters").optional(),
    /** Keys carrying this scope. */
    scope: ScopeSchema.optional(),
  })
  .optional();

/** keys.list: newest first, a page at a time (`nextPageToken` is null on the last page). */
export const list = memberProcedure.input(ListKeysInputSchema).query(async ({ ctx, input = {} }) => {
  const response = await ctx.service.listKeys(
    defined({
      pageSize: input.pageSize,
      pageToken: input.pageToken,
      status: input.status && toKeyStatus(input.status),
      permission: input.permission && toPermission(input.permission),
      subject: input.subject,
      domainId: input.domainId,
      nameContains: input.nameContains,
      scope: input.scope,
    }),
  );
  return { keys: response.keys.map(keyJson), nextPageToken: nextPage(response.nextPageToken) };
});

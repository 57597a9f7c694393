import type { JsonObject } from "@bufbuild/protobuf";
import { z } from "zod";
import { toPermission, toRefillInterval } from "../../../shared/contract/enums.js";
import { keyJson, required } from "../../../shared/contract/json.js";
import { asPrincipal } from "../../../shared/contract/service-client.js";
import { adminProcedure } from "../../auth.js";
import { defined } from "../../request.js";
import {
  CidrsSchema,
  ClaimsSchema,
  DescriptionSchema,
  DomainIdSchema,
  ExpiresInSecondsSchema,
  NameSchema,
  PermissionSchema,
  RateLimitsSchema,
  RefillSchema,
  RemainingSchema,
  ScopesSchema,
  SubjectSchema,
} from "../../schemas.js";

export const CreateKeyInputSchema = z
  .strictObject({
    name: NameSchema,
    description: DescriptionSchema.optional(),
    permission: PermissionSchema.optional(),
    domainId: DomainIdSchema.optional(),
    subject: SubjectSchema.optional(),
    scopes: ScopesSchema.optional(),
    claims: ClaimsSchema.optional(),
    expiresInSeconds: ExpiresInSecondsSchema.optional(),
    enabled: z.boolean().optional(),
    allowedCidrs: CidrsSchema.optional(),
    ratelimits: RateLimitsSchema.optional(),
    remaining: RemainingSchema.optional(),
    refill: RefillSchema.optional(),
    /** key.credits_low below this many credits; default 10% of the refill amount. */
    creditsLowThreshold: RemainingSchema.optional(),
  })
  .superRefine((input, ctx) => {
    if (input.domainId !== undefined && input.permission !== "sending_access") {
      ctx.addIssue({ code: "custom", path: ["domainId"], message: "only allowed with sending_access permission" });
    }
  });

/** keys.create: a new key; the token is in this answer and nowhere else, ever. */
export const create = adminProcedure.input(CreateKeyInputSchema).mutation(async ({ ctx, input }) => {
  const response = await ctx.service.createKey(
    defined({
      name: input.name,
      description: input.description,
      permission: input.permission && toPermission(input.permission),
      domainId: input.domainId,
      subject: input.subject,
      scopes: input.scopes,
      claims: input.claims as JsonObject | undefined,
      expiresInSeconds: input.expiresInSeconds,
      enabled: input.enabled,
      allowedCidrs: input.allowedCidrs,
      ratelimits: input.ratelimits,
      remaining: input.remaining === undefined ? undefined : BigInt(input.remaining),
      refill: input.refill && {
        interval: toRefillInterval(input.refill.interval),
        amount: BigInt(input.refill.amount),
        dayOfMonth: input.refill.dayOfMonth ?? 0,
      },
      creditsLowThreshold: input.creditsLowThreshold === undefined ? undefined : BigInt(input.creditsLowThreshold),
    }),
    asPrincipal(ctx.principal),
  );
  return { key: keyJson(required(response.key, "the key")), token: response.token };
});

import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import { z } from "zod";
import type { UpdateKeyRequestSchema } from "../../../gen/keyward/v1/key_service_pb.js";
import { toPermission, toRefillInterval } from "../../../shared/contract/enums.js";
import { keyJson, required } from "../../../shared/contract/json.js";
import { asPrincipal } from "../../../shared/contract/service-client.js";
import { adminProcedure } from "../../auth.js";
import { badInput } from "../../errors.js";
import { timestamp } from "../../request.js";
import {
  CidrsSchema,
  ClaimsSchema,
  DescriptionSchema,
  DomainIdSchema,
  EtagSchema,
  IdSchema,
  NameSchema,
  PermissionSchema,
  RateLimitsSchema,
  RefillSchema,
  RemainingSchema,
  ScopesSchema,
  TimeSchema,
} from "../../schemas.js";

/**
 * No update mask here: the fields present are the fields that change, and
 * null clears a clearable one (description, domainId, claims, expireTime,
 * remaining = unlimited, refill). The gateway builds the mask.
 */
export const UpdateKeyInputSchema = z
  .strictObject({
    id: IdSchema,
    name: NameSchema.optional(),
    description: DescriptionSchema.nullable().optional(),
    permission: PermissionSchema.optional(),
    domainId: DomainIdSchema.nullable().optional(),
    scopes: ScopesSchema.optional(),
    claims: ClaimsSchema.nullable().optional(),
    expireTime: TimeSchema.nullable().optional(),
    enabled: z.boolean().optional(),
    allowedCidrs: CidrsSchema.optional(),
    ratelimits: RateLimitsSchema.optional(),
    remaining: RemainingSchema.nullable().optional(),
    refill: RefillSchema.nullable().optional(),
    /** null: back to 10% of the refill amount. */
    creditsLowThreshold: RemainingSchema.nullable().optional(),
    etag: EtagSchema.optional(),
  })
  .superRefine((input, ctx) => {
    // Only what the input alone can show; the service checks against the stored permission too.
    if (typeof input.domainId === "string" && input.permission === "full_access") {
      ctx.addIssue({ code: "custom", path: ["domainId"], message: "only allowed with sending_access permission" });
    }
  });

type UpdateKeyInput = z.output<typeof UpdateKeyInputSchema>;

/** Gateway field -> update_mask path. */
const MASK_PATHS = {
  name: "name",
  description: "description",
  permission: "permission",
  domainId: "domain_id",
  scopes: "scopes",
  claims: "claims",
  expireTime: "expire_time",
  enabled: "enabled",
  allowedCidrs: "allowed_cidrs",
  ratelimits: "ratelimits",
  remaining: "remaining",
  refill: "refill",
  creditsLowThreshold: "credits_low_threshold",
} as const satisfies Record<Exclude<keyof UpdateKeyInput, "id" | "etag">, string>;

/** The UpdateKey request of an input: the mask names exactly the fields present. */
type UpdateKeyRequestInit = MessageInitShape<typeof UpdateKeyRequestSchema> & { updateMask: { paths: string[] } };

export function updateRequest(input: UpdateKeyInput): UpdateKeyRequestInit {
  const paths = (Object.keys(MASK_PATHS) as (keyof typeof MASK_PATHS)[])
    .filter((field) => input[field] !== undefined)
    .map((field) => MASK_PATHS[field]);
  const request: UpdateKeyRequestInit = {
    id: input.id,
    updateMask: { paths },
    etag: input.etag ?? "",
  };
  // A null leaves the request field unset: with its path in the mask, that clears it.
  if (input.name !== undefined) request.name = input.name;
  if (input.description != null) request.description = input.description;
  if (input.permission !== undefined) request.permission = toPermission(input.permission);
  if (input.domainId != null) request.domainId = input.domainId;
  if (input.scopes !== undefined) request.scopes = input.scopes;
  if (input.claims != null) request.claims = input.claims as JsonObject;
  if (input.expireTime != null) request.expireTime = timestamp(input.expireTime);
  if (input.enabled !== undefined) request.enabled = input.enabled;
  if (input.allowedCidrs !== undefined) request.allowedCidrs = input.allowedCidrs;
  if (input.ratelimits !== undefined) request.ratelimits = input.ratelimits;
  if (input.remaining != null) request.remaining = BigInt(input.remaining);
  if (input.creditsLowThreshold != null) request.creditsLowThreshold = BigInt(input.creditsLowThreshold);
  if (input.refill != null) {
    request.refill = {
      interval: toRefillInterval(input.refill.interval),
      amount: BigInt(input.refill.amount),
      dayOfMonth: input.refill.dayOfMonth ?? 0,
    };
  }
  return request;
}

/** keys.update: changes exactly the fields given. The token never changes. */
export const update = adminProcedure.input(UpdateKeyInputSchema).mutation(async ({ ctx, input }) => {
  const request = updateRequest(input);
  if (request.updateMask.paths.length === 0) {
    throw badInput("input", `name at least one field to change: ${Object.keys(MASK_PATHS).join(", ")}`);
  }
  const response = await ctx.service.updateKey(request, asPrincipal(ctx.principal));
  return keyJson(required(response.key, "the key"));
});

import { z } from "zod";
import { required, webhookEndpointJson } from "../../../shared/contract/json.js";
import { asPrincipal } from "../../../shared/contract/service-client.js";
import { adminProcedure } from "../../auth.js";
import { badInput } from "../../errors.js";
import { IdSchema } from "../../schemas.js";
import { EventIdSchema, EventTypesSchema, WebhookDescriptionSchema, WebhookUrlSchema } from "./schemas.js";

/** The fields present change; the gateway builds the mask. Enabling again clears an automatic disabling. */
export const UpdateWebhookInputSchema = z.strictObject({
  id: IdSchema,
  url: WebhookUrlSchema.optional(),
  description: WebhookDescriptionSchema.nullable().optional(),
  eventTypes: EventTypesSchema.optional(),
  enabled: z.boolean().optional(),
});

const MASK_PATHS = { url: "url", description: "description", eventTypes: "event_types", enabled: "enabled" } as const;

/** webhooks.update: changes the fields given. */
export const update = adminProcedure.input(UpdateWebhookInputSchema).mutation(async ({ ctx, input }) => {
  const paths = (Object.keys(MASK_PATHS) as (keyof typeof MASK_PATHS)[])
    .filter((field) => input[field] !== undefined)
    .map((field) => MASK_PATHS[field]);
  if (paths.length === 0)
    throw badInput("input", "name at least one field to change: url, description, eventTypes, enabled");
  const response = await ctx.service.updateWebhookEndpoint(
    {
      id: input.id,
      updateMask: { paths },
      url: input.url ?? "",
      description: input.description ?? "",
      eventTypes: input.eventTypes ?? [],
      enabled: input.enabled ?? false,
    },
    asPrincipal(ctx.principal),
  );
  return webhookEndpointJson(required(response.endpoint, "the endpoint"));
});

export const DeleteWebhookInputSchema = z.strictObject({ id: IdSchema });

/** webhooks.delete: removes the endpoint and what was still to be sent to it; its attempts stay listed. */
export const deleteWebhook = adminProcedure.input(DeleteWebhookInputSchema).mutation(async ({ ctx, input }) => {
  const response = await ctx.service.deleteWebhookEndpoint({ id: input.id }, asPrincipal(ctx.principal));
  return webhookEndpointJson(required(response.endpoint, "the endpoint"));
});

export const ResendInputSchema = z.strictObject({ endpointId: IdSchema, eventId: EventIdSchema });

/** webhooks.resend: delivers an event to an endpoint once more (the same webhook-id). */
export const resend = adminProcedure.input(ResendInputSchema).mutation(async ({ ctx, input }) => {
  const response = await ctx.service.resendWebhookEvent(
    { endpointId: input.endpointId, eventId: input.eventId },
    asPrincipal(ctx.principal),
  );
  return { deliveryId: response.deliveryId };
});

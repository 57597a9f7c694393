import { z } from "zod";
import { required, webhookEndpointJson } from "../../../shared/contract/json.js";
import { asPrincipal } from "../../../shared/contract/service-client.js";
import { adminProcedure } from "../../auth.js";
import { defined } from "../../request.js";
import { EventTypesSchema, WebhookDescriptionSchema, WebhookUrlSchema } from "./schemas.js";

export const CreateWebhookInputSchema = z.strictObject({
  url: WebhookUrlSchema,
  description: WebhookDescriptionSchema.optional(),
  /** Omitted or empty: every event type. */
  eventTypes: EventTypesSchema.optional(),
  enabled: z.boolean().optional(),
});

/** webhooks.create: registers an endpoint; `secret` (whsec_…) is in this answer and nowhere else, ever. */
export const create = adminProcedure.input(CreateWebhookInputSchema).mutation(async ({ ctx, input }) => {
  const response = await ctx.service.createWebhookEndpoint(
    defined({ url: input.url, description: input.description, eventTypes: input.eventTypes, enabled: input.enabled }),
    asPrincipal(ctx.principal),
  );
  return { endpoint: webhookEndpointJson(required(response.endpoint, "the endpoint")), secret: response.secret };
});

import { z } from "zod";
import { nextPage, required, webhookAttemptJson, webhookEndpointJson } from "../../../shared/contract/json.js";
import { memberProcedure } from "../../auth.js";
import { defined } from "../../request.js";
import { IdSchema, PageSchema } from "../../schemas.js";
import { EventIdSchema } from "./schemas.js";

export const ListWebhooksInputSchema = z.strictObject({ ...PageSchema }).optional();

/** webhooks.list: every endpoint, newest first. */
export const list = memberProcedure.input(ListWebhooksInputSchema).query(async ({ ctx, input = {} }) => {
  const response = await ctx.service.listWebhookEndpoints(
    defined({ pageSize: input.pageSize, pageToken: input.pageToken }),
  );
  return { endpoints: response.endpoints.map(webhookEndpointJson), nextPageToken: nextPage(response.nextPageToken) };
});

export const GetWebhookInputSchema = z.strictObject({ id: IdSchema });

/** webhooks.get: one endpoint (its secret is never shown again). */
export const get = memberProcedure.input(GetWebhookInputSchema).query(async ({ ctx, input }) => {
  const response = await ctx.service.getWebhookEndpoint({ id: input.id });
  return webhookEndpointJson(required(response.endpoint, "the endpoint"));
});

export const ListAttemptsInputSchema = z.strictObject({
  endpointId: IdSchema,
  eventId: EventIdSchema.optional(),
  ...PageSchema,
});

/** webhooks.attempts: every delivery attempt to an endpoint, newest first: status, response code, duration. */
export const attempts = memberProcedure.input(ListAttemptsInputSchema).query(async ({ ctx, input }) => {
  const response = await ctx.service.listWebhookAttempts(
    defined({
      endpointId: input.endpointId,
      eventId: input.eventId,
      pageSize: input.pageSize,
      pageToken: input.pageToken,
    }),
  );
  return { attempts: response.attempts.map(webhookAttemptJson), nextPageToken: nextPage(response.nextPageToken) };
});

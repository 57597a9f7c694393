import { z } from "zod";
import { WEBHOOK_EVENT_TYPES } from "../../../shared/contract/events.js";

/**
 * Webhook inputs, with the service's limits. The URL's messages never repeat
 * it: a receiver's URL may carry a secret of its own in the query.
 */
export const WebhookUrlSchema = z
  .string()
  .trim()
  .min(1, "is required")
  .max(2048, "must be at most 2048 characters")
  .superRefine((text, ctx) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      ctx.addIssue({ code: "custom", message: "is not a URL" });
      return;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      ctx.addIssue({ code: "custom", message: "must start with http:// or https://" });
    } else if (url.username !== "" || url.password !== "") {
      ctx.addIssue({ code: "custom", message: "must not hold a user name or password" });
    } else if (url.hash !== "") {
      ctx.addIssue({ code: "custom", message: "must not have a #fragment" });
    }
  });

export const EventTypesSchema = z
  .array(z.enum(WEBHOOK_EVENT_TYPES, `must be one of ${WEBHOOK_EVENT_TYPES.join(", ")}`))
  .max(WEBHOOK_EVENT_TYPES.length, `must hold at most ${WEBHOOK_EVENT_TYPES.length} event types`);

export const WebhookDescriptionSchema = z
  .string()
  .refine((s) => [...s].length <= 1000, "must be at most 1,000 characters");

/** An event's webhook-id as receivers see it. */
export const EventIdSchema = z.string().regex(/^msg_[0-9a-f]{32}$/, "must be an event id (msg_ and 32 hex digits)");

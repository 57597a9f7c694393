import { type Command, Option } from "commander";
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from "../../shared/contract/events.js";
import type { WebhookEndpointJson } from "../../shared/contract/json.js";
import { UsageError } from "../errors.js";
import type { Palette } from "../format/color.js";
import { renderFields, renderTable } from "../format/table.js";
import { relativeTime, timeWithRelative } from "../format/time.js";
import { printJson, printLine, printNote } from "../io.js";
import { collect, parsePositiveInt } from "../parse.js";
import { type CommandContext, withJson } from "./context.js";

const EVENT_HELP = `an event type to send (repeatable; default every type): ${WEBHOOK_EVENT_TYPES.join(", ")}`;

function eventTypes(values: string[] | undefined): WebhookEventType[] | undefined {
  if (values === undefined) return undefined;
  const types = values
    .flatMap((v) => v.split(","))
    .map((v) => v.trim().toLowerCase())
    .filter(Boolean);
  for (const type of types) {
    if (!(WEBHOOK_EVENT_TYPES as readonly string[]).includes(type)) {
      throw new UsageError(`--event: "${type}" is not an event type; one of ${WEBHOOK_EVENT_TYPES.join(", ")}`);
    }
  }
  return types as WebhookEventType[];
}

function endpointFields(e: WebhookEndpointJson, c: Palette, now = Date.now()): string {
  return renderFields([
    ["ID", e.id],
    ["URL", e.url],
    ["Description", e.description ?? "-"],
    ["Events", e.eventTypes.length === 0 ? "every type" : e.eventTypes.join(", ")],
    ["Enabled", e.enabled ? c.green("yes") : c.red(`no${e.disabledReason ? ` (${e.disabledReason})` : ""}`)],
    ["Failing since", timeWithRelative(e.failingSince, "-", now)],
    ["Created", `${timeWithRelative(e.createTime, "-", now)} by ${e.createdBy ?? "-"}`],
  ]);
}

/** `keyward webhooks create|list|get|update|delete|attempts|resend`: the gateway's webhooks.* procedures. */
export function registerWebhooks(program: Command, ctx: CommandContext): void {
  const webhooks = program
    .command("webhooks")
    .description("endpoints that receive signed events (Standard Webhooks): key changes, leaks, exports");

  withJson(
    webhooks
      .command("create")
      .description("register an endpoint and print its signing secret (shown this once)")
      .requiredOption("--url <url>", "where to POST events: http:// or https://, no user or password")
      .option("--description <text>", "what it is for, up to 1,000 characters")
      .option("--event <type>", EVENT_HELP, collect)
      .option("--disabled", "register it disabled"),
  ).action(
    async (flags: { url: string; description?: string; event?: string[]; disabled?: boolean; json?: boolean }) => {
      const created = await ctx.gateway().webhooks.create.mutate({
        url: flags.url,
        description: flags.description,
        eventTypes: eventTypes(flags.event),
        enabled: flags.disabled ? false : undefined,
      });
      if (flags.json) return printJson(ctx.io, created);
      printLine(ctx.io, `Registered webhook endpoint ${created.endpoint.id}.`);
      printLine(ctx.io, endpointFields(created.endpoint, ctx.palette));
      printLine(ctx.io);
      printLine(ctx.io, `  ${ctx.palette.bold(created.secret)}`);
      printLine(ctx.io);
      printLine(
        ctx.io,
        "Copy this signing secret now: it will not be shown again. Verify each request's webhook-signature with it (any Standard Webhooks library).",
      );
    },
  );

  withJson(
    webhooks
      .command("list")
      .description("webhook endpoints, newest first")
      .option("--limit <n>", "endpoints per page, 1-100 (default 20)", parsePositiveInt)
      .option("--page-token <token>", "the page after the one that printed this token"),
  ).action(async (flags: { limit?: number; pageToken?: string; json?: boolean }) => {
    const page = await ctx.gateway().webhooks.list.query({ pageSize: flags.limit, pageToken: flags.pageToken });
    if (flags.json) return printJson(ctx.io, page);
    const c = ctx.palette;
    printLine(
      ctx.io,
      page.endpoints.length === 0
        ? "No webhook endpoints."
        : renderTable(
            ["ID", "URL", "EVENTS", "ENABLED", "FAILING SINCE"],
            page.endpoints.map((e) => [
              e.id,
              e.url,
              e.eventTypes.length === 0 ? "all" : String(e.eventTypes.length),
              e.enabled ? c.green("yes") : c.red("no"),
              relativeTime(e.failingSince, Date.now(), "-"),
            ]),
          ),
    );
    if (page.nextPageToken) printNote(ctx.io, `More: keyward webhooks list --page-token ${page.nextPageToken}`);
  });

  withJson(webhooks.command("get").description("one webhook endpoint").argument("<id>", "the endpoint's id")).action(
    async (id: string, flags: { json?: boolean }) => {
      const endpoint = await ctx.gateway().webhooks.get.query({ id });
      if (flags.json) return printJson(ctx.io, endpoint);
      printLine(ctx.io, endpointFields(endpoint, ctx.palette));
    },
  );

  withJson(
    webhooks
      .command("update")
      .description("change an endpoint: URL, description, event types, enabled")
      .argument("<id>", "the endpoint's id")
      .option("--url <url>", "the new URL")
      .option("--description <text>", "the new description")
      .addOption(
        new Option("--event <type>", `${EVENT_HELP}; replaces the list`).argParser(collect).conflicts("allEvents"),
      )
      .option("--all-events", "send every event type")
      .addOption(new Option("--enable", "enable it (also after Keyward disabled it for failing)").conflicts("disable"))
      .option("--disable", "stop sending to it"),
  ).action(
    async (
      id: string,
      flags: {
        url?: string;
        description?: string;
        event?: string[];
        allEvents?: boolean;
        enable?: boolean;
        disable?: boolean;
        json?: boolean;
      },
    ) => {
      const input = {
        id,
        url: flags.url,
        description: flags.description,
        eventTypes: flags.allEvents ? [] : eventTypes(flags.event),
        enabled: flags.enable ? true : flags.disable ? false : undefined,
      };
      if (Object.entries(input).every(([k, v]) => k === "id" || v === undefined)) {
        throw new UsageError(
          "nothing to change: give --url, --description, --event, --all-events, --enable or --disable",
        );
      }
      const endpoint = await ctx.gateway().webhooks.update.mutate(input);
      if (flags.json) return printJson(ctx.io, endpoint);
      printLine(ctx.io, `Updated webhook endpoint ${endpoint.id}.`);
      printLine(ctx.io, endpointFields(endpoint, ctx.palette));
    },
  );

  withJson(
    webhooks
      .command("delete")
      .description("remove an endpoint and what was still to be sent to it (its attempts stay listed)")
      .argument("<id>", "the endpoint's id"),
  ).action(async (id: string, flags: { json?: boolean }) => {
    const endpoint = await ctx.gateway().webhooks.delete.mutate({ id });
    if (flags.json) return printJson(ctx.io, endpoint);
    printLine(ctx.io, `Deleted webhook endpoint ${endpoint.id}.`);
  });

  withJson(
    webhooks
      .command("attempts")
      .description("delivery attempts to an endpoint, newest first: event, status, response code, duration")
      .argument("<id>", "the endpoint's id")
      .option("--event <id>", "only this event's attempts (msg_…)")
      .option("--limit <n>", "attempts per page, 1-100 (default 20)", parsePositiveInt)
      .option("--page-token <token>", "the page after the one that printed this token"),
  ).action(async (id: string, flags: { event?: string; limit?: number; pageToken?: string; json?: boolean }) => {
    const page = await ctx.gateway().webhooks.attempts.query({
      endpointId: id,
      eventId: flags.event,
      pageSize: flags.limit,
      pageToken: flags.pageToken,
    });
    if (flags.json) return printJson(ctx.io, page);
    const c = ctx.palette;
    const now = Date.now();
    printLine(
      ctx.io,
      page.attempts.length === 0
        ? "No attempts."
        : renderTable(
            ["WHEN", "EVENT", "TYPE", "TRY", "STATUS", "CODE", "MS", "ERROR"],
            page.attempts.map((a) => [
              relativeTime(a.time, now),
              a.eventId,
              a.eventType,
              `${a.attempt}${a.manual ? " (resend)" : ""}`,
              a.status === "succeeded" ? c.green("succeeded") : c.red("failed"),
              a.responseCode === null ? "-" : String(a.responseCode),
              String(a.durationMs),
              a.error ?? "",
            ]),
          ),
    );
    if (page.nextPageToken) {
      printNote(ctx.io, `More: keyward webhooks attempts ${id} --page-token ${page.nextPageToken}`);
    }
  });

  withJson(
    webhooks
      .command("resend")
      .description("deliver an event to an endpoint once more (the same webhook-id)")
      .argument("<id>", "the endpoint's id")
      .argument("<event>", "the event's id (msg_…), from keyward webhooks attempts"),
  ).action(async (id: string, event: string, flags: { json?: boolean }) => {
    const answer = await ctx.gateway().webhooks.resend.mutate({ endpointId: id, eventId: event });
    if (flags.json) return printJson(ctx.io, answer);
    printLine(ctx.io, `Queued event ${event} for endpoint ${id} again (delivery ${answer.deliveryId}).`);
  });
}

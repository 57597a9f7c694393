import type { Command } from "commander";
import { AUDIT_ACTION_WORDS, type AuditActionWord } from "../../shared/contract/words.js";
import { renderTable } from "../format/table.js";
import { relativeTime } from "../format/time.js";
import { printJson, printLine, printNote } from "../io.js";
import { parsePositiveInt, parseTime } from "../parse.js";
import { type CommandContext, withJson, wordOption } from "./context.js";

/** Key actions also by their short name: `rotate` is `key.rotate`; `export` is `export.create`. */
const ACTION_ALIASES: Record<string, AuditActionWord> = {
  ...Object.fromEntries(AUDIT_ACTION_WORDS.filter((w) => w.startsWith("key.")).map((w) => [w.slice("key.".length), w])),
  export: "export.create",
  revoke: "key.delete",
};

interface AuditFlags {
  key?: string;
  actor?: string;
  action?: string;
  from?: string;
  to?: string;
  limit?: number;
  pageToken?: string;
  json?: boolean;
}

/** `keyward audit`: who did what to which key, newest first. */
export function registerAudit(program: Command, ctx: CommandContext): void {
  withJson(
    program
      .command("audit")
      .description("the audit log: who created, changed, rotated or revoked which key, newest first")
      .option("--key <id>", "only events of this key")
      .option("--actor <email>", "only events by this admin (or service, bootstrap)")
      .addOption(
        wordOption(
          "--action <action>",
          "only this action (key.rotate or just rotate)",
          AUDIT_ACTION_WORDS,
          ACTION_ALIASES,
        ),
      )
      .option("--from <time>", "an ISO time or a duration ago such as 7d", (v) => parseTime(v))
      .option("--to <time>", "an ISO time or a duration ago", (v) => parseTime(v))
      .option("--limit <n>", "events per page, 1-100 (default 20)", parsePositiveInt)
      .option("--page-token <token>", "the page after the one that printed this token"),
  ).action(async (flags: AuditFlags) => {
    const page = await ctx.gateway().audit.list.query({
      keyId: flags.key,
      actor: flags.actor,
      action: flags.action,
      from: flags.from,
      to: flags.to,
      pageSize: flags.limit,
      pageToken: flags.pageToken,
    });
    if (flags.json) return printJson(ctx.io, page);
    const now = Date.now();
    printLine(
      ctx.io,
      page.events.length === 0
        ? "No audit events."
        : renderTable(
            ["TIME", "ACTOR", "ACTING KEY", "ACTION", "KEY", "SUMMARY"],
            page.events.map((e) => [
              relativeTime(e.time, now),
              e.actor,
              e.actorKeyId ?? "(service)",
              e.action,
              e.keyId ?? e.exportId ?? "-",
              e.summary,
            ]),
          ),
    );
    if (page.nextPageToken) printNote(ctx.io, `More: keyward audit --page-token ${page.nextPageToken}`);
  });
}

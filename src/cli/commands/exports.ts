import type { Command } from "commander";
import { EXPORT_RESOURCE_WORDS, EXPORT_STATE_WORDS, VERIFY_CODE_WORDS } from "../../shared/contract/words.js";
import { downloadTo } from "../download.js";
import { CliError } from "../errors.js";
import { renderFields, renderTable } from "../format/table.js";
import { relativeTime, timeWithRelative } from "../format/time.js";
import { printJson, printLine, printNote } from "../io.js";
import { parsePositiveInt, parseTime } from "../parse.js";
import { type CommandContext, withJson, wordOption } from "./context.js";
import { type KeyFilterFlags, withKeyFilterOptions } from "./key-filter-flags.js";

interface CreateFlags extends KeyFilterFlags {
  resource: (typeof EXPORT_RESOURCE_WORDS)[number];
  key?: string;
  code?: (typeof VERIFY_CODE_WORDS)[number];
  from?: string;
  to?: string;
  output?: string;
  json?: boolean;
}

/** `keyward exports create|download|list|get`. */
export function registerExports(program: Command, ctx: CommandContext): void {
  const exportsCommand = program.command("exports").description("CSV exports of keys and request logs");

  withJson(
    withKeyFilterOptions(
      exportsCommand
        .command("create")
        .description(
          "export keys or request logs as CSV: up to 1,000 rows are downloaded at once, more are written by the workers and mailed as a link",
        )
        .addOption(wordOption("--resource <resource>", "what to export", EXPORT_RESOURCE_WORDS).makeOptionMandatory()),
      "api_keys: ",
    )
      .option("--key <id>", "key_logs: only this key's request logs")
      .addOption(wordOption("--code <code>", "key_logs: only this outcome", VERIFY_CODE_WORDS))
      .option("--from <time>", "key_logs: from this ISO time or duration ago (7d)", (v) => parseTime(v))
      .option("--to <time>", "key_logs: until this ISO time or duration ago", (v) => parseTime(v))
      .option("--output <file>", "where to save a CSV downloaded at once (default keyward-<resource>-<id>.csv here)"),
  ).action(async (flags: CreateFlags) => {
    const created = await ctx.gateway().exports.create.mutate({
      resource: flags.resource,
      filters: {
        status: flags.status,
        permission: flags.permission,
        subject: flags.subject,
        domainId: flags.domain,
        nameContains: flags.name,
        keyId: flags.key,
        code: flags.code,
        from: flags.from,
        to: flags.to,
      },
    });
    const e = created.export;
    if (created.downloadUrl === null) {
      if (flags.json) return printJson(ctx.io, created);
      printLine(
        ctx.io,
        `Export ${e.id} has ${e.matchingRows} rows: the workers are writing it, and a mail with the download link is on its way to ${e.requestedBy}. See it with: keyward exports get ${e.id}`,
      );
      return;
    }
    const file = flags.output ?? defaultFile(e.resource ?? "export", e.id);
    const bytes = await downloadTo(created.downloadUrl, ctx.settings().token, file);
    if (flags.json) return printJson(ctx.io, { ...created, file });
    printLine(ctx.io, `Wrote ${e.rowCount} rows (${bytes} bytes) to ${file}.`);
  });

  exportsCommand
    .command("download")
    .description("save a ready export's CSV (admins)")
    .argument("<id>", "the export's id")
    .option("--output <file>", "where to save it (default keyward-<resource>-<id>.csv here)")
    .action(async (id: string, flags: { output?: string }) => {
      const e = await ctx.gateway().exports.get.query({ id });
      if (e.state !== "ready") throw new CliError(`export ${id} is ${e.state ?? "unknown"}, not ready`);
      if (e.downloadUrl === null) throw new CliError("only admins can download exports (this key is a member's)");
      const file = flags.output ?? defaultFile(e.resource ?? "export", e.id);
      const bytes = await downloadTo(e.downloadUrl, ctx.settings().token, file);
      printLine(ctx.io, `Wrote ${e.rowCount} rows (${bytes} bytes) to ${file}.`);
    });

  withJson(
    exportsCommand
      .command("list")
      .description("exports, newest first")
      .addOption(wordOption("--state <state>", "only exports in this state", EXPORT_STATE_WORDS))
      .option("--limit <n>", "exports per page, 1-100 (default 20)", parsePositiveInt)
      .option("--page-token <token>", "the page after the one that printed this token"),
  ).action(
    async (flags: {
      state?: (typeof EXPORT_STATE_WORDS)[number];
      limit?: number;
      pageToken?: string;
      json?: boolean;
    }) => {
      const page = await ctx
        .gateway()
        .exports.list.query({ state: flags.state, pageSize: flags.limit, pageToken: flags.pageToken });
      if (flags.json) return printJson(ctx.io, page);
      const now = Date.now();
      printLine(
        ctx.io,
        page.exports.length === 0
          ? "No exports."
          : renderTable(
              ["ID", "RESOURCE", "STATE", "ROWS", "REQUESTED BY", "CREATED", "EXPIRES"],
              page.exports.map((e) => [
                e.id,
                e.resource ?? "-",
                e.state ?? "-",
                String(e.state === "ready" ? e.rowCount : e.matchingRows),
                e.requestedBy,
                relativeTime(e.createTime, now),
                relativeTime(e.expireTime, now, "-"),
              ]),
            ),
      );
      if (page.nextPageToken) printNote(ctx.io, `More: keyward exports list --page-token ${page.nextPageToken}`);
    },
  );

  withJson(exportsCommand.command("get").description("show one export").argument("<id>", "the export's id")).action(
    async (id: string, flags: { json?: boolean }) => {
      const e = await ctx.gateway().exports.get.query({ id });
      if (flags.json) return printJson(ctx.io, e);
      printLine(
        ctx.io,
        renderFields([
          ["ID", e.id],
          ["Resource", e.resource ?? "-"],
          ["State", e.state ?? "-"],
          ["Requested by", e.requestedBy],
          ["Created", timeWithRelative(e.createTime, "-")],
          ["Expires", timeWithRelative(e.expireTime, "-")],
          ["Matching rows", String(e.matchingRows)],
          ["Rows", String(e.rowCount)],
          ["Bytes", String(e.byteSize)],
          ["Attempts", String(e.attempts)],
          ["Error", e.error ?? "-"],
          ["Mail", e.mailState ? `${e.mailState}${e.mailError ? `: ${e.mailError}` : ""}` : "-"],
          // Admins only (members get null): the signed link the mail carries.
          ["Download", e.downloadUrl ?? "-"],
        ]),
      );
    },
  );
}

/** keyward-api_keys-<id>.csv in the current folder. */
function defaultFile(resource: string, id: string): string {
  return `keyward-${resource}-${id}.csv`;
}

import { type Command, Option } from "commander";
import { EXPORT_STATE_WORDS } from "../../shared/contract/words.js";
import { renderFields, renderTable } from "../format/table.js";
import { relativeTime, timeWithRelative } from "../format/time.js";
import { printJson, printLine, printNote } from "../io.js";
import { parsePositiveInt } from "../parse.js";
import { type CommandContext, withJson } from "./context.js";

/** `keyward exports list|get`. (`create` joins here with the exports issue.) */
export function registerExports(program: Command, ctx: CommandContext): void {
  const exportsCommand = program.command("exports").description("CSV exports of keys and request logs");

  withJson(
    exportsCommand
      .command("list")
      .description("exports, newest first")
      .addOption(new Option("--state <state>", "only exports in this state").choices(EXPORT_STATE_WORDS))
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

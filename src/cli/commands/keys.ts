import { type Command, Option } from "commander";
import type { KeyJson } from "../../shared/contract/json.js";
import { GRANULARITY_WORDS, PERMISSION_WORDS, VERIFY_CODE_WORDS } from "../../shared/contract/words.js";
import { UsageError } from "../errors.js";
import { keyDetails, keysTable } from "../format/key.js";
import { renderTable } from "../format/table.js";
import { relativeTime, timeWithRelative } from "../format/time.js";
import { printToken } from "../format/token.js";
import { printJson, printLine, printNote } from "../io.js";
import {
  collect,
  collectRatelimit,
  parseClaims,
  parseDurationSeconds,
  parsePositiveInt,
  parseRefill,
  parseTime,
  parseWholeNumber,
  type RateLimitFlag,
  type RefillFlag,
} from "../parse.js";
import { type CommandContext, withJson, wordOption } from "./context.js";
import { type KeyFilterFlags, withKeyFilterOptions } from "./key-filter-flags.js";

/** `keyward keys create|list|get|update|delete|rotate|usage|logs`: the gateway's keys.* procedures. */
export function registerKeys(program: Command, ctx: CommandContext): void {
  const keys = program.command("keys").description("create, list, inspect, change, rotate and revoke API keys");
  registerCreate(keys, ctx);
  registerList(keys, ctx);
  registerGet(keys, ctx);
  registerUpdate(keys, ctx);
  registerDelete(keys, ctx);
  registerRotate(keys, ctx);
  registerUsage(keys, ctx);
  registerLogs(keys, ctx);
  registerReportLeak(keys, ctx);
}

function registerReportLeak(keys: Command, ctx: CommandContext): void {
  withJson(
    keys
      .command("report-leak")
      .description("a token found in public: a live key is revoked (or disabled) at once, audited and announced")
      .argument("<token>", "the token as found (never printed or logged)")
      .requiredOption("--url <url>", "where it was found")
      .option("--disable", "disable the key instead of revoking it"),
  ).action(async (token: string, flags: { url: string; disable?: boolean; json?: boolean }) => {
    const answer = await ctx
      .gateway()
      .keys.reportLeak.mutate({ token, url: flags.url, action: flags.disable ? "disable" : "revoke" });
    if (flags.json) return printJson(ctx.io, answer);
    printLine(
      ctx.io,
      answer.truePositive
        ? `Key ${answer.keyId} was live: it is now ${flags.disable ? "disabled" : "revoked"}, and its owners are told.`
        : "Not a live Keyward key (unknown, malformed, revoked or expired): nothing changed.",
    );
  });
}

interface CreateFlags {
  name: string;
  description?: string;
  permission?: (typeof PERMISSION_WORDS)[number];
  domain?: string;
  subject?: string;
  scope?: string[];
  claims?: Record<string, unknown>;
  expiresIn?: number;
  cidr?: string[];
  disabled?: boolean;
  ratelimit?: RateLimitFlag[];
  credits?: number;
  refill?: RefillFlag;
  lowCredits?: number;
  json?: boolean;
}

const RATELIMIT_HELP = "a rate limit NAME:LIMIT/DURATION, e.g. api:100/1m (repeatable)";
const CREDITS_HELP = "how many verifications the key may spend (each costs 1 unless the caller says)";
const LOW_CREDITS_HELP =
  "announce key.credits_low (webhook, reminder) below this many credits; default 10% of the refill amount";
const REFILL_HELP = "refill the credits daily:N or monthly:N@DAY (at 00:00 UTC)";

function registerCreate(keys: Command, ctx: CommandContext): void {
  withJson(
    keys
      .command("create")
      .description("create a key and print its token (shown this once)")
      .requiredOption("--name <name>", "the key's name, 1-100 characters")
      .option("--description <text>", "what the key is for, up to 1,000 characters")
      .addOption(wordOption("--permission <permission>", "what the key may do (default full_access)", PERMISSION_WORDS))
      .option("--domain <id>", "restrict the key to one sending domain (implies --permission sending_access)")
      .option("--subject <id>", "the owner, e.g. user_123 or org_456")
      .option("--scope <scope>", "a scope such as read:users (repeatable)", collect)
      .option("--claims <json>", 'a JSON object returned on verification, e.g. \'{"plan":"pro"}\'', parseClaims)
      .option(
        "--expires-in <duration>",
        "expire after 30d, 12h, 90m or 3600 (seconds); default never",
        parseDurationSeconds,
      )
      .option("--cidr <cidr>", "accept verification only from this IP or CIDR (repeatable)", collect)
      .option("--ratelimit <rule>", RATELIMIT_HELP, collectRatelimit)
      .option("--credits <n>", CREDITS_HELP, parseWholeNumber)
      .option("--refill <rule>", `${REFILL_HELP}; starts full unless --credits says otherwise`, parseRefill)
      .option("--low-credits <n>", LOW_CREDITS_HELP, parseWholeNumber)
      .option("--disabled", "create the key disabled (enable it later with keys update --enable)"),
  ).action(async (flags: CreateFlags) => {
    const permission = flags.permission ?? (flags.domain !== undefined ? "sending_access" : undefined);
    const result = await ctx.gateway().keys.create.mutate({
      name: flags.name,
      description: flags.description,
      permission,
      domainId: flags.domain,
      subject: flags.subject,
      scopes: flags.scope,
      claims: flags.claims as never,
      expiresInSeconds: flags.expiresIn,
      allowedCidrs: flags.cidr,
      ratelimits: flags.ratelimit,
      remaining: flags.credits,
      refill: flags.refill,
      creditsLowThreshold: flags.lowCredits,
      enabled: flags.disabled ? false : undefined,
    });
    if (flags.json) return printJson(ctx.io, result);
    printLine(ctx.io, `Created key "${result.key.name}" (${result.key.id}).`);
    printToken(ctx.io, ctx.palette, result.token);
  });
}

interface ListFlags extends KeyFilterFlags {
  scope?: string;
  limit?: number;
  pageToken?: string;
  all?: boolean;
  json?: boolean;
}

function registerList(keys: Command, ctx: CommandContext): void {
  withJson(
    withKeyFilterOptions(keys.command("list").description("list keys, newest first"))
      .option("--scope <scope>", "only keys carrying this scope")
      .option("--limit <n>", "keys per page, 1-100 (default 20)", parsePositiveInt)
      .option("--page-token <token>", "the page after the one that printed this token")
      .option("--all", "fetch every page"),
  ).action(async (flags: ListFlags) => {
    const client = ctx.gateway();
    const filters = {
      status: flags.status,
      permission: flags.permission,
      subject: flags.subject,
      domainId: flags.domain,
      nameContains: flags.name,
      scope: flags.scope,
      pageSize: flags.limit,
    };
    let page = await client.keys.list.query({ ...filters, pageToken: flags.pageToken });
    const keys: KeyJson[] = [...page.keys];
    while (flags.all && page.nextPageToken) {
      page = await client.keys.list.query({ ...filters, pageToken: page.nextPageToken });
      keys.push(...page.keys);
    }
    const nextPageToken = flags.all ? null : page.nextPageToken;
    if (flags.json) return printJson(ctx.io, { keys, nextPageToken });
    printLine(ctx.io, keys.length === 0 ? "No keys." : keysTable(keys, ctx.palette));
    if (nextPageToken) printNote(ctx.io, `More keys: keyward keys list --page-token ${nextPageToken}`);
  });
}

function registerGet(keys: Command, ctx: CommandContext): void {
  withJson(keys.command("get").description("show one key").argument("<id>", "the key's id")).action(
    async (id: string, flags: { json?: boolean }) => {
      const key = await ctx.gateway().keys.get.query({ id });
      if (flags.json) return printJson(ctx.io, key);
      printLine(ctx.io, keyDetails(key, ctx.palette));
    },
  );
}

interface UpdateFlags {
  name?: string;
  description?: string;
  permission?: (typeof PERMISSION_WORDS)[number];
  domain?: string;
  clearDomain?: boolean;
  scope?: string[];
  clearScopes?: boolean;
  claims?: Record<string, unknown>;
  clearClaims?: boolean;
  expiresIn?: number;
  neverExpires?: boolean;
  cidr?: string[];
  clearCidrs?: boolean;
  enable?: boolean;
  disable?: boolean;
  ratelimit?: RateLimitFlag[];
  clearRatelimits?: boolean;
  credits?: number;
  unlimited?: boolean;
  lowCredits?: number;
  defaultLowCredits?: boolean;
  refill?: RefillFlag;
  clearRefill?: boolean;
  json?: boolean;
}

function registerUpdate(keys: Command, ctx: CommandContext): void {
  withJson(
    keys
      .command("update")
      .description("change a key; only the fields given change (the token never does)")
      .argument("<id>", "the key's id")
      .option("--name <name>", "a new name, 1-100 characters")
      .option("--description <text>", "a new description ('' clears it)")
      .addOption(wordOption("--permission <permission>", "what the key may do", PERMISSION_WORDS))
      .addOption(new Option("--domain <id>", "restrict the key to one sending domain").conflicts("clearDomain"))
      .option("--clear-domain", "remove the domain restriction")
      .addOption(
        new Option("--scope <scope>", "the new scope list, replacing the old (repeatable)")
          .argParser(collect)
          .conflicts("clearScopes"),
      )
      .option("--clear-scopes", "remove every scope")
      .addOption(
        new Option("--claims <json>", "new claims, a JSON object").argParser(parseClaims).conflicts("clearClaims"),
      )
      .option("--clear-claims", "remove the claims")
      .addOption(
        new Option("--expires-in <duration>", "expire this long from now: 30d, 12h, 3600 (seconds)")
          .argParser(parseDurationSeconds)
          .conflicts("neverExpires"),
      )
      .option("--never-expires", "remove the expiry")
      .addOption(
        new Option("--cidr <cidr>", "the new allowed IP/CIDR list, replacing the old (repeatable)")
          .argParser(collect)
          .conflicts("clearCidrs"),
      )
      .option("--clear-cidrs", "accept verification from any address")
      .addOption(new Option("--enable", "enable the key").conflicts("disable"))
      .option("--disable", "disable the key (verification fails with disabled until enabled)")
      .addOption(
        new Option("--ratelimit <rule>", `${RATELIMIT_HELP}; replaces the old list`)
          .argParser(collectRatelimit)
          .conflicts("clearRatelimits"),
      )
      .option("--clear-ratelimits", "remove every rate limit")
      .addOption(
        new Option("--credits <n>", `set the credits left: ${CREDITS_HELP}`)
          .argParser(parseWholeNumber)
          .conflicts("unlimited"),
      )
      .option("--unlimited", "no credit limit")
      .addOption(new Option("--refill <rule>", REFILL_HELP).argParser(parseRefill).conflicts("clearRefill"))
      .option("--clear-refill", "stop refilling the credits")
      .addOption(
        new Option("--low-credits <n>", LOW_CREDITS_HELP).argParser(parseWholeNumber).conflicts("defaultLowCredits"),
      )
      .option("--default-low-credits", "announce low credits at 10% of the refill amount again"),
  ).action(async (id: string, flags: UpdateFlags) => {
    const input = {
      id,
      name: flags.name,
      description: flags.description,
      permission: flags.permission,
      domainId: flags.clearDomain ? null : flags.domain,
      scopes: flags.clearScopes ? [] : flags.scope,
      claims: (flags.clearClaims ? null : flags.claims) as never,
      expireTime: flags.neverExpires
        ? null
        : flags.expiresIn === undefined
          ? undefined
          : new Date(Date.now() + flags.expiresIn * 1000).toISOString(),
      allowedCidrs: flags.clearCidrs ? [] : flags.cidr,
      enabled: flags.enable ? true : flags.disable ? false : undefined,
      ratelimits: flags.clearRatelimits ? [] : flags.ratelimit,
      remaining: flags.unlimited ? null : flags.credits,
      refill: flags.clearRefill ? null : flags.refill,
      creditsLowThreshold: flags.defaultLowCredits ? null : flags.lowCredits,
    };
    if (Object.entries(input).every(([k, v]) => k === "id" || v === undefined)) {
      throw new UsageError(
        "nothing to change: give at least one flag, e.g. --name or --disable (see keyward keys update --help)",
      );
    }
    const key = await ctx.gateway().keys.update.mutate(input);
    if (flags.json) return printJson(ctx.io, key);
    printLine(ctx.io, `Updated key "${key.name}".`);
    printLine(ctx.io, keyDetails(key, ctx.palette));
  });
}

function registerDelete(keys: Command, ctx: CommandContext): void {
  withJson(
    keys
      .command("delete")
      .description("revoke a key at once (it stays listed as revoked)")
      .argument("<id>", "the key's id")
      .option("--reason <text>", "why, kept with the key (up to 500 characters)"),
  ).action(async (id: string, flags: { reason?: string; json?: boolean }) => {
    const key = await ctx.gateway().keys.delete.mutate({ id, reason: flags.reason });
    if (flags.json) return printJson(ctx.io, key);
    printLine(ctx.io, `Revoked key "${key.name}" (${key.id}).`);
  });
}

function registerRotate(keys: Command, ctx: CommandContext): void {
  withJson(
    keys
      .command("rotate")
      .description("replace a key with a new one like it and print the new token (shown this once)")
      .argument("<id>", "the key's id")
      .option(
        "--grace <duration>",
        "how long the old key keeps working: 1h, 7d ... at most 30d (default 0: revoked now)",
        parseDurationSeconds,
      ),
  ).action(async (id: string, flags: { grace?: number; json?: boolean }) => {
    const result = await ctx.gateway().keys.rotate.mutate({ id, gracePeriodSeconds: flags.grace });
    if (flags.json) return printJson(ctx.io, result);
    const old = result.previousKey;
    printLine(ctx.io, `Rotated key "${result.key.name}": the new key is ${result.key.id}.`);
    printLine(
      ctx.io,
      old.status === "revoked" || !old.expireTime
        ? `The old key ${old.id} is revoked.`
        : `The old key ${old.id} keeps working until ${timeWithRelative(old.expireTime, "-")}.`,
    );
    printToken(ctx.io, ctx.palette, result.token);
  });
}

function registerUsage(keys: Command, ctx: CommandContext): void {
  withJson(
    keys
      .command("usage")
      .description("verifications of a key per hour or day, by outcome")
      .argument("<id>", "the key's id")
      .addOption(wordOption("--granularity <unit>", "bucket size (default hour)", GRANULARITY_WORDS))
      .option("--from <time>", "start: an ISO time or a duration ago such as 7d (default 24h or 30d ago)", (v) =>
        parseTime(v),
      )
      .option("--to <time>", "end: an ISO time or a duration ago (default now)", (v) => parseTime(v)),
  ).action(async (id: string, flags: { granularity?: "hour" | "day"; from?: string; to?: string; json?: boolean }) => {
    const usage = await ctx
      .gateway()
      .keys.usage.query({ id, granularity: flags.granularity, from: flags.from, to: flags.to });
    if (flags.json) return printJson(ctx.io, usage);
    const rows = usage.buckets.map((b) => [
      (b.startTime ?? "").slice(0, 16).replace("T", " "),
      String(b.total),
      b.outcomes.map((o) => `${o.code ?? "unknown"} ${o.count}`).join(", "),
    ]);
    printLine(ctx.io, renderTable(["START (UTC)", "TOTAL", "OUTCOMES"], rows));
    printLine(ctx.io, `Total: ${usage.total} verification${usage.total === 1 ? "" : "s"}.`);
  });
}

function registerLogs(keys: Command, ctx: CommandContext): void {
  withJson(
    keys
      .command("logs")
      .description("recent verifications of a key, newest first")
      .argument("<id>", "the key's id")
      .addOption(wordOption("--code <code>", "only this outcome", VERIFY_CODE_WORDS))
      .option("--from <time>", "an ISO time or a duration ago such as 24h", (v) => parseTime(v))
      .option("--to <time>", "an ISO time or a duration ago", (v) => parseTime(v))
      .option("--limit <n>", "entries per page, 1-100 (default 20)", parsePositiveInt)
      .option("--page-token <token>", "the page after the one that printed this token"),
  ).action(
    async (
      id: string,
      flags: {
        code?: (typeof VERIFY_CODE_WORDS)[number];
        from?: string;
        to?: string;
        limit?: number;
        pageToken?: string;
        json?: boolean;
      },
    ) => {
      const page = await ctx.gateway().keys.logs.query({
        id,
        code: flags.code,
        from: flags.from,
        to: flags.to,
        pageSize: flags.limit,
        pageToken: flags.pageToken,
      });
      if (flags.json) return printJson(ctx.io, page);
      const now = Date.now();
      printLine(
        ctx.io,
        page.logs.length === 0
          ? "No verifications logged."
          : renderTable(
              ["TIME", "OUTCOME", "IP", "METHOD", "PATH", "USER AGENT"],
              page.logs.map((l) => [
                relativeTime(l.time, now),
                l.code === "valid" ? ctx.palette.green(l.code) : ctx.palette.red(l.code ?? "unknown"),
                l.ip ?? "-",
                l.method ?? "-",
                l.path ?? "-",
                l.userAgent ?? "-",
              ]),
            ),
      );
      if (page.nextPageToken) printNote(ctx.io, `More: keyward keys logs ${id} --page-token ${page.nextPageToken}`);
    },
  );
}

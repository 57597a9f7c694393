import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { type Stringifier, stringify } from "csv-stringify";
import type { Key } from "../../gen/keyward/v1/key_pb.js";
import type { KeyLog } from "../../gen/keyward/v1/usage_pb.js";
import { keyStatusWords, permissionWords, verifyCodeWords } from "../contract/enums.js";

/**
 * The CSV of an export: RFC 4180 (CRLF line ends, quotes where needed),
 * UTF-8, a header row, one row per key or per log line. A cell that begins
 * with = + - @ tab or CR gets a leading ' so that a spreadsheet shows it as
 * text instead of running it as a formula (csv-stringify's escape_formulas),
 * and so does one where only whitespace comes before such a character: some
 * spreadsheets trim a cell before deciding whether it is a formula.
 * The columns are chosen, not copied from the message: never a token, a hash
 * or the token hint.
 */

export type ExportResourceName = "api_keys" | "key_logs";

export const KEY_COLUMNS = [
  "id",
  "name",
  "permission",
  "domain_id",
  "subject",
  "scopes",
  "status",
  "create_time",
  "last_used_time",
  "request_count",
  "expire_time",
  "revoke_time",
] as const;

export const KEY_LOG_COLUMNS = ["id", "key_id", "time", "code", "ip", "method", "path", "user_agent", "tags"] as const;

type KeyRow = Record<(typeof KEY_COLUMNS)[number], string | number>;
type KeyLogRow = Record<(typeof KEY_LOG_COLUMNS)[number], string>;

const iso = (ts: Timestamp | undefined): string => (ts ? timestampDate(ts).toISOString() : "");

export function keyRow(key: Key): KeyRow {
  return {
    id: key.id,
    name: key.name,
    // Unset means full access (SPEC §2).
    permission: permissionWords.word(key.permission) ?? "full_access",
    domain_id: key.domainId,
    subject: key.subject,
    scopes: key.scopes.join(" "),
    status: keyStatusWords.word(key.status) ?? "",
    create_time: iso(key.createTime),
    last_used_time: iso(key.lastUsedTime),
    request_count: Number(key.requestCount),
    expire_time: iso(key.expireTime),
    revoke_time: iso(key.revokeTime),
  };
}

export function keyLogRow(log: KeyLog): KeyLogRow {
  const tags = Object.keys(log.tags).length > 0 ? JSON.stringify(log.tags) : "";
  return {
    id: log.id,
    key_id: log.keyId,
    time: iso(log.time),
    code: verifyCodeWords.word(log.code) ?? "",
    ip: log.ip,
    method: log.method,
    path: log.path,
    user_agent: log.userAgent,
    tags,
  };
}

/** Whitespace (spaces, tabs, CR, LF, NBSP...) and then a character that starts a formula, ASCII or full-width. */
const PADDED_FORMULA = /^\s+[=+\-@\uFF1D\uFF0B\uFF0D\uFF20]/;

/** A text cell as written: a padded formula gets the same leading ' as escape_formulas gives a bare one. */
export function neutraliseCell(value: string): string {
  return PADDED_FORMULA.test(value) ? `'${value}` : value;
}

/** A Transform from row objects (keyRow / keyLogRow) to CSV text. */
export function createCsvStringifier(resource: ExportResourceName): Stringifier {
  return stringify({
    header: true,
    columns: [...(resource === "api_keys" ? KEY_COLUMNS : KEY_LOG_COLUMNS)],
    record_delimiter: "windows",
    // A CR or LF inside a cell is quoted, so a reader never splits a record there.
    quote_record_delimiter: true,
    escape_formulas: true,
    cast: { string: neutraliseCell },
  });
}

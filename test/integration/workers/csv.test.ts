import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import { createCsvStringifier } from "../../../src/shared/exports/csv.js";
import { parseCsv } from "./harness.js";

async function csvOf(rows: Array<Record<string, string | number>>, resource: "api_keys" | "key_logs" = "key_logs") {
  return text(Readable.from(rows).pipe(createCsvStringifier(resource)));
}

describe("export CSV", () => {
  it("neutralises every cell that a spreadsheet would run as a formula", async () => {
    const cells = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "ok", "a=b"];
    const out = await csvOf(cells.map((path) => ({ id: "1", path })));
    const rows = parseCsv(out);
    expect(rows.slice(1).map((r) => r[6])).toEqual(["'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\t=1", "'\r=1", "ok", "a=b"]);
  });

  it("neutralises a formula that only whitespace comes before, which some spreadsheets trim away", async () => {
    const cells = [" =1+1", "  +1", "\t -1", "\r\n@SUM(A1)", "\n=1", "\u00a0=1", " \uFF1D1", " ok", "a =b", " 1-2"];
    const out = await csvOf(cells.map((path) => ({ id: "1", path })));
    const rows = parseCsv(out);
    expect(rows.slice(1).map((r) => r[6])).toEqual([
      "' =1+1",
      "'  +1",
      "'\t -1",
      "'\r\n@SUM(A1)",
      "'\n=1",
      "'\u00a0=1",
      "' \uFF1D1",
      " ok",
      "a =b",
      " 1-2",
    ]);
  });

  it("is RFC 4180: CRLF records, quotes doubled, line breaks kept inside quotes, UTF-8", async () => {
    const out = await csvOf([{ id: "1", path: 'say "hi", then\r\nleave', user_agent: "Zoë ✓" }]);
    expect(out).toBe(
      'id,key_id,time,code,ip,method,path,user_agent,tags\r\n1,,,,,,"say ""hi"", then\r\nleave",Zoë ✓,\r\n',
    );
  });
});

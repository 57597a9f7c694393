import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExportJson } from "../../../src/shared/contract/json.js";
import { ADMIN_SCOPE } from "../../../src/shared/contract/scopes.js";
import { KEY_COLUMNS } from "../../../src/shared/exports/csv.js";
import { exportDownloadUrl, exportLinkSecret } from "../../../src/shared/exports/links.js";
import { eventually, linkIn, parseCsv, type Stack, startStack } from "./harness.js";

const DAY = 86_400_000;
let s: Stack;

beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});

async function createExport(input: unknown, token?: string) {
  const { status, body } = await s.trpc("exports.create", input, token);
  return { status, body, data: body.result?.data as { export: ExportJson; downloadUrl: string | null } };
}

describe("exports.create", () => {
  it("writes an export of at most 1,000 rows at once and answers with a download URL", async () => {
    const ids = await s.seedKeys(3, { subject: "team-small" });
    const { status, data } = await createExport({ resource: "api_keys", filters: { subject: "team-small" } });
    expect(status).toBe(200);
    expect(data.export).toMatchObject({
      state: "ready",
      resource: "api_keys",
      rowCount: 3,
      matchingRows: 3,
      requestedBy: "admin@example.com",
    });
    expect(data.downloadUrl).toMatch(
      new RegExp(`^${s.url}/exports/${data.export.id}/download\\?expires=\\d+&sig=[0-9a-f]{64}$`),
    );

    const file = await s.download(data.downloadUrl as string);
    expect(file.status).toBe(200);
    expect(file.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(file.headers.get("content-disposition")).toMatch(/^attachment; filename="keyward-api_keys-.+\.csv"$/);
    expect(Number(file.headers.get("content-length"))).toBe(data.export.byteSize);
    const rows = parseCsv(file.text);
    expect(rows[0]).toEqual([...KEY_COLUMNS]);
    expect(
      rows
        .slice(1)
        .map((r) => r[0])
        .sort(),
    ).toEqual([...ids].sort());
    expect(file.text.endsWith("\r\n")).toBe(true);
    // Immediate exports are answered, not mailed.
    expect(s.smtp.mails).toHaveLength(0);
  });

  it("queues an export of 1,001 rows and mails the admin a link that downloads all of them", async () => {
    await s.seedKeys(1001, { subject: "team-bulk" });
    const { status, data } = await createExport({ resource: "api_keys", filters: { subject: "team-bulk" } });
    expect(status).toBe(200);
    expect(data.export).toMatchObject({ state: "pending", matchingRows: 1001 });
    expect(data.downloadUrl).toBeNull();

    const [mail] = await s.smtp.waitFor(1, (m) => m.subject.includes("ready"));
    expect(mail?.to).toEqual(["admin@example.com"]);
    expect(mail?.subject).toBe("Your Keyward export is ready (1,001 rows)");
    expect(mail?.html).toContain("<a href=");
    const link = linkIn(mail);
    expect(link.startsWith(`${s.url}/exports/${data.export.id}/download?`)).toBe(true);
    // The token is a shell variable in the mail, never a real one.
    expect(mail?.raw).not.toContain(s.adminToken);

    const file = await s.download(link);
    expect(file.status).toBe(200);
    const rows = parseCsv(file.text);
    expect(rows[0]).toEqual([...KEY_COLUMNS]);
    expect(rows).toHaveLength(1002);
    expect(new Set(rows.slice(1).map((r) => r[4]))).toEqual(new Set(["team-bulk"]));

    await eventually(async () => {
      const got = await s.trpc("exports.get", { id: data.export.id }, s.memberToken, "GET");
      expect(got.body.result?.data).toMatchObject({
        state: "ready",
        rowCount: 1001,
        byteSize: Buffer.byteLength(file.text),
        attempts: 1,
        mailState: "sent",
        mailError: null,
        downloadUrl: null,
      });
    });
    // One file, no temporary leftovers.
    expect(readdirSync(s.exportsDir).filter((n) => n.includes(data.export.id))).toEqual(
      expect.arrayContaining([`${data.export.id}.csv`]),
    );
    expect(readdirSync(s.exportsDir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("is for admins only and validates its input", async () => {
    const member = await createExport({ resource: "api_keys" }, s.memberToken);
    expect(member.status).toBe(403);
    const anonymous = await createExport({ resource: "api_keys" }, "");
    expect(anonymous.status).toBe(401);
    const bad = await createExport({ resource: "users" });
    expect(bad.status).toBe(400);
    const foreign = await createExport({ resource: "api_keys", filters: { code: "valid" } });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error?.message).toContain("filters.code");
  });

  it("neutralises formula injection in key names and scopes", async () => {
    const names = ['=HYPERLINK("http://evil")', "+SUM(1,2)", "-2+3", "@SUM(A1)", "plain"];
    await s.seedKeys(names.length, { subject: "team-inject", name: (i) => names[i] as string, scopes: ["-rm:all"] });
    const { data } = await createExport({ resource: "api_keys", filters: { subject: "team-inject" } });
    const rows = parseCsv((await s.download(data.downloadUrl as string)).text);
    const byName = rows
      .slice(1)
      .map((r) => r[1])
      .sort();
    expect(byName).toEqual(["'+SUM(1,2)", "'-2+3", '\'=HYPERLINK("http://evil")', "'@SUM(A1)", "plain"]);
    expect(new Set(rows.slice(1).map((r) => r[5]))).toEqual(new Set(["'-rm:all"]));
  });

  it("never writes a token, a hash or a token hint", async () => {
    const created = await s.direct.createKey({ name: "secret-bearing", subject: "team-secret" });
    const { data } = await createExport({ resource: "api_keys", filters: { subject: "team-secret" } });
    const text = (await s.download(data.downloadUrl as string)).text;
    expect(text).toContain("secret-bearing");
    expect(text).not.toContain(created.token);
    expect(text).not.toContain(created.key?.tokenHint as string);
    expect(text).not.toMatch(/kw_[0-9A-Za-z]{20,}/);
  });

  it("exports key logs", async () => {
    const [id] = await s.seedKeys(1, { subject: "team-logs" });
    const created = await s.direct.getKey({ id: id as string });
    expect(created.key?.id).toBe(id);
    const { status, data } = await createExport({ resource: "key_logs", filters: { keyId: id } });
    expect(status).toBe(200);
    expect(data.export).toMatchObject({ state: "ready", resource: "key_logs", rowCount: 0 });
    const file = await s.download(data.downloadUrl as string);
    expect(parseCsv(file.text)).toEqual([
      ["id", "key_id", "time", "code", "ip", "method", "path", "user_agent", "tags"],
    ]);
  });
});

describe("exports.get and exports.list", () => {
  it("give admins the download link of a READY export, and members null", async () => {
    await s.seedKeys(2, { subject: "team-reach" });
    const { data } = await createExport({ resource: "api_keys", filters: { subject: "team-reach" } });
    const id = data.export.id;

    const asAdmin = await s.trpc("exports.get", { id }, s.adminToken, "GET");
    expect(asAdmin.body.result?.data).toMatchObject({ id, state: "ready", mailState: "none" });
    const link = asAdmin.body.result?.data.downloadUrl as string;
    expect(link).toMatch(new RegExp(`^${s.url}/exports/${id}/download\\?expires=\\d+&sig=[0-9a-f]{64}$`));
    expect((await s.download(link)).status).toBe(200);
    const asMember = await s.trpc("exports.get", { id }, s.memberToken, "GET");
    expect(asMember.body.result?.data).toMatchObject({ id, state: "ready", downloadUrl: null });

    const listed = await s.trpc("exports.list", { pageSize: 100 }, s.adminToken, "GET");
    expect(listed.body.result?.data.exports.find((e: { id: string }) => e.id === id)?.downloadUrl).toBe(link);
    const listedToMember = await s.trpc("exports.list", { pageSize: 100 }, s.memberToken, "GET");
    expect(
      listedToMember.body.result?.data.exports.every((e: { downloadUrl: unknown }) => e.downloadUrl === null),
    ).toBe(true);
  });

  it("reach the file of an export asked for by an admin key without an email, which nobody could be mailed", async () => {
    const { token } = await s.direct.createKey({ name: "Scripted admin", scopes: [ADMIN_SCOPE] });
    await s.seedKeys(1001, { subject: "team-nomail" });
    const mailsBefore = s.smtp.mails.length;
    const { status, data } = await createExport({ resource: "api_keys", filters: { subject: "team-nomail" } }, token);
    expect(status).toBe(200);
    expect(data.export.state).toBe("pending");
    expect(data.downloadUrl).toBeNull();

    const ready = await eventually(async () => {
      const got = await s.trpc("exports.get", { id: data.export.id }, token, "GET");
      expect(got.body.result?.data).toMatchObject({ state: "ready", mailState: "none" });
      return got.body.result?.data;
    }, 20_000);
    expect(ready.requestedBy).toMatch(/^key:/);
    const file = await s.download(ready.downloadUrl as string, token);
    expect(file.status).toBe(200);
    expect(parseCsv(file.text)).toHaveLength(1002);
    expect(s.smtp.mails).toHaveLength(mailsBefore);
  });
});

describe("GET /exports/<id>/download", () => {
  let link: string;
  let exportId: string;
  beforeAll(async () => {
    await s.seedKeys(2, { subject: "team-links" });
    const { data } = await createExport({ resource: "api_keys", filters: { subject: "team-links" } });
    link = data.downloadUrl as string;
    exportId = data.export.id;
  });

  it("refuses a member with 403", async () => {
    const res = await s.download(link, s.memberToken);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).error.message).toContain("only admins");
  });

  it("refuses a request without an admin key with 401", async () => {
    expect((await s.download(link, "")).status).toBe(401);
  });

  it("refuses a tampered link with 403", async () => {
    const sig = /sig=([0-9a-f]+)/.exec(link)?.[1] as string;
    const flipped = `${sig.slice(0, -1)}${sig.endsWith("0") ? "1" : "0"}`;
    expect((await s.download(link.replace(sig, flipped))).status).toBe(403);
    const later = link.replace(/expires=(\d+)/, (_, ms: string) => `expires=${Number(ms) + DAY}`);
    expect((await s.download(later)).status).toBe(403);
    expect((await s.download(link.replace(/&sig=.*/, ""))).status).toBe(403);
    // Another export's id under this signature.
    expect((await s.download(link.replace(exportId, "01890000-0000-7000-8000-000000000000"))).status).toBe(403);
    // The real link still works.
    expect((await s.download(link)).status).toBe(200);
  });

  it("answers 410 for a link past its time, and deletes the file", async () => {
    // A link signed correctly but already past: only the holder of the secret can make one.
    const { data } = await createExport({ resource: "api_keys", filters: { subject: "team-links" } });
    const secret = exportLinkSecret(s.config, s.serviceToken);
    const past = exportDownloadUrl(s.url, secret, data.export.id, Date.now() - 1000);
    const res = await s.download(past);
    expect(res.status).toBe(410);
    expect(existsSync(join(s.exportsDir, `${data.export.id}.csv`))).toBe(false);
  });
});

describe("expiry", () => {
  it("after 7 days the sweep expires the export and deletes its file; the link then answers 410", async () => {
    await s.seedKeys(1, { subject: "team-expiry" });
    const { data } = await createExport({ resource: "api_keys", filters: { subject: "team-expiry" } });
    const file = join(s.exportsDir, `${data.export.id}.csv`);
    expect(existsSync(file)).toBe(true);

    s.clock.advance(7 * DAY + 60_000);
    const swept = await s.sweepNow();
    expect(swept.expiredExports).toContain(data.export.id);
    expect(existsSync(file)).toBe(false);

    const res = await s.download(data.downloadUrl as string);
    expect(res.status).toBe(410);
    const got = await s.trpc("exports.get", { id: data.export.id }, s.adminToken, "GET");
    expect(got.body.result?.data.state).toBe("expired");
  });
});

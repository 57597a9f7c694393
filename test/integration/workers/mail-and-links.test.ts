import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  exportDownloadPath,
  exportLinkSecret,
  publicBaseUrl,
  verifyExportLink,
} from "../../../src/shared/exports/links.js";
import { exportReadyMail } from "../../../src/workers/mail/export-mails.js";
import { createMailer } from "../../../src/workers/mail/mailer.js";
import { captureLogger } from "./harness.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("mail without SMTP_URL", () => {
  it("writes an .eml with a text and an HTML part to the outbox and logs the link", async () => {
    const outbox = join(mkdtempSync(join(tmpdir(), "keyward-outbox-")), "outbox");
    dirs.push(join(outbox, ".."));
    const log = captureLogger();
    const mailer = createMailer({ from: "Keyward <keyward@example.com>", outboxDir: outbox, logger: log.logger });
    expect(mailer.kind).toBe("outbox");
    const url = "https://keyward.example.com/exports/0190/download?expires=1&sig=ab";
    await mailer.send(
      exportReadyMail({
        exportId: "0190",
        what: "API keys",
        requestedBy: "ops@example.com",
        createdAt: new Date(0),
        url,
        rowCount: 1001,
        byteSize: 2048,
        expiresAt: new Date(7 * 86_400_000),
      }),
    );
    mailer.close();
    const files = readdirSync(outbox);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/\.eml$/);
    const eml = readFileSync(join(outbox, files[0] as string), "utf8");
    expect(eml).toContain("To: ops@example.com");
    expect(eml).toContain("Content-Type: text/plain");
    expect(eml).toContain("Content-Type: text/html");
    const line = log.lines().find((l) => l.msg === "no SMTP_URL: mail written to the outbox");
    expect(line?.links).toEqual([url]);
  });
});

describe("download links", () => {
  const secret = exportLinkSecret({}, "x".repeat(40));
  const id = "01900000-0000-7000-8000-000000000001";

  it("verify only as issued", () => {
    const path = exportDownloadPath(secret, id, 1_700_000_000_000);
    const q = new URL(path, "http://h").searchParams;
    const link = { exportId: id, expires: q.get("expires"), sig: q.get("sig") };
    expect(verifyExportLink(secret, link)).toEqual({ ok: true, expiresAtMs: 1_700_000_000_000 });
    expect(verifyExportLink(secret, { ...link, expires: "01700000000000" }).ok).toBe(false);
    expect(verifyExportLink(secret, { ...link, expires: "1700000000001" }).ok).toBe(false);
    expect(verifyExportLink(secret, { ...link, sig: link.sig?.toUpperCase() ?? null }).ok).toBe(false);
    expect(verifyExportLink(secret, { ...link, sig: "ab" }).ok).toBe(false);
    expect(verifyExportLink(secret, { ...link, exportId: `${id.slice(0, -1)}2` }).ok).toBe(false);
    expect(verifyExportLink(exportLinkSecret({}, "y".repeat(40)), link).ok).toBe(false);
  });

  it("use KEYWARD_EXPORT_SECRET when set, else a secret derived from (and not equal to) the service token", () => {
    const token = "t".repeat(43);
    expect(exportLinkSecret({ KEYWARD_EXPORT_SECRET: "s".repeat(32) }, token).toString()).toBe("s".repeat(32));
    const derived = exportLinkSecret({}, token);
    expect(derived).toHaveLength(32);
    expect(derived.toString("utf8")).not.toContain(token);
  });

  it("are absolute: KEYWARD_PUBLIC_URL, else the gateway on this machine", () => {
    expect(publicBaseUrl({ KEYWARD_PUBLIC_URL: "https://keys.example.com/", KEYWARD_GATEWAY_PORT: 8787 })).toBe(
      "https://keys.example.com",
    );
    expect(publicBaseUrl({ KEYWARD_GATEWAY_PORT: 8787 })).toBe("http://127.0.0.1:8787");
  });
});

/**
 * The web console end to end, in real headless Chromium against a real
 * `keyward start`: an admin signs in, creates, verifies, edits, rotates and
 * deletes a key, exports small and large, reads the audit log; a member
 * sees everything and can change nothing; signing out ends it. Screenshots
 * of every page, admin and member, at 1280 and 390 px wide, go to
 * test-results/screenshots/. Steps run in order and share one Keyward.
 */
import { readFileSync } from "node:fs";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatewayClient } from "../../src/cli/client.js";
import { createKeyServiceGrpcClient, type KeyServiceGrpcClient } from "../support/grpc-client.js";
import { heading, settled, signIn, storageAndHtml, tabTo } from "./console-helpers.js";
import { bootstrapAdmin, gatewayClient, type Keyward, launchChromium, screenshot, startKeyward } from "./harness.js";

let k: Keyward;
let browser: Browser;
let grpc: KeyServiceGrpcClient;
let admin: { id: string; token: string };
let adminApi: GatewayClient;
let member: { id: string; token: string };
let adminContext: BrowserContext;
let page: Page;

/** What the admin's page logged as errors: the CSP must refuse nothing the console does. */
const consoleErrors: string[] = [];

/** What the steps pass on to each other. */
const seen: { token?: string; keyId?: string; rotatedId?: string; busyKeyId?: string; mailLink?: string } = {};

const KEY_NAME = "Checkout service";
const EDITED_NAME = "Checkout service v2";

beforeAll(async () => {
  k = await startKeyward();
  grpc = createKeyServiceGrpcClient(k.grpcAddress);
  admin = await bootstrapAdmin(k, "admin@example.com");
  adminApi = gatewayClient(k, admin.token);
  const created = await adminApi.keys.create.mutate({
    name: "Member Mo",
    scopes: ["console:member"],
    claims: { email: "member@example.com" },
  });
  member = { id: created.key.id, token: created.token };
  browser = await launchChromium();
  adminContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  // A locator that never appears fails the step naming it, well inside the step's own time.
  adminContext.setDefaultTimeout(10_000);
  page = await adminContext.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(error.message));
}, 90_000);

afterAll(async () => {
  await browser?.close();
  grpc?.close();
  await k?.close();
});

function keyRow(p: Page, name: string) {
  return p.getByRole("row").filter({ has: p.getByRole("link", { name, exact: true }) });
}

/** Visits every page at 1280 and 390 px wide and saves a screenshot of each. */
async function screenshotEveryPage(p: Page, role: "admin" | "member", keyId: string): Promise<void> {
  const pages: Array<[string, string, string]> = [
    ["keys", "/keys", "API keys"],
    ["create-key", "/keys/new", "Create API key"],
    ["key", `/keys/${keyId}`, ""],
    ["exports", "/exports", "Exports"],
    ["audit", "/audit", "Audit log"],
  ];
  for (const width of [1280, 390]) {
    await p.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    for (const [name, path, title] of pages) {
      await p.goto(`${k.url}${path}`);
      if (title) await heading(p, title).waitFor();
      else await p.getByRole("heading", { name: "Request logs" }).waitFor();
      if (name === "key") await p.locator(".recharts-surface").first().waitFor();
      await settled(p);
      await screenshot(p, `${role}-${name}-${width}`);
    }
  }
  await p.setViewportSize({ width: 1280, height: 900 });
}

describe("the web console", { timeout: 60_000 }, () => {
  it("shows the sign-in page signed out, and signs an admin in with a session cookie only", async () => {
    await page.goto(`${k.url}/keys`);
    await page.getByLabel("API key").waitFor();
    expect(new URL(page.url()).pathname).toBe("/sign-in");
    await screenshot(page, "signed-out-sign-in-1280");
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, "signed-out-sign-in-390");
    await page.setViewportSize({ width: 1280, height: 900 });

    await signIn(page, admin.token);
    await heading(page, "API keys").waitFor();
    expect(new URL(page.url()).pathname).toBe("/keys");
    expect(await page.locator(".who-email").textContent()).toBe("admin@example.com");

    const cookies = await adminContext.cookies(k.url);
    const session = cookies.find((c) => c.name === "keyward_session");
    const csrf = cookies.find((c) => c.name === "keyward_csrf");
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict", secure: false, path: "/" });
    expect(csrf).toMatchObject({ httpOnly: false, sameSite: "Strict", path: "/" });
    // Expiring, 12 h by default (KEYWARD_SESSION_TTL).
    const hours = ((session?.expires ?? 0) * 1000 - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(11.9);
    expect(hours).toBeLessThanOrEqual(12);
    expect(session?.value).not.toContain(admin.token);
    // The token is nowhere the page's script could read it.
    expect(await storageAndHtml(page)).not.toContain(admin.token);
  });

  it("creates a key, shows its token once with Copy and a warning, and lists it Active", async () => {
    await page.getByRole("link", { name: "Create API key" }).click();
    await heading(page, "Create API key").waitFor();
    await page.getByLabel("Name", { exact: true }).fill(KEY_NAME);
    await page.getByLabel("Description").fill("Takes payments");
    await expect(page.getByLabel("Domain").count()).resolves.toBe(0);
    await page.getByLabel("Permission").selectOption({ label: "Sending access" });
    await page.getByLabel("Domain").fill("example.com");
    await page.getByLabel("Subject").fill("org_42");
    await page.getByLabel("Scopes").fill("read:users write:users");
    await page.getByLabel("Expiry").selectOption({ label: "30 days" });
    await page.getByRole("button", { name: "Add rate limit" }).click();
    await page.getByLabel("Credits").fill("1000");
    await page.getByLabel("Refill", { exact: true }).selectOption({ label: "Monthly" });
    await page.getByLabel("Refill amount").fill("1000");
    await page.getByLabel("Day of month").fill("1");
    await page.getByRole("button", { name: "Create", exact: true }).click();

    const tokenField = page.getByLabel("New API key");
    await tokenField.waitFor();
    const token = await tokenField.inputValue();
    expect(token).toMatch(/^kw_[0-9A-Za-z]{38}$/);
    seen.token = token;
    await adminContext.grantPermissions(["clipboard-read", "clipboard-write"], { origin: k.url });
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByText("Copied to the clipboard.").waitFor();
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(token);
    await page.evaluate("navigator.clipboard.writeText('')");
    await page.getByText("You won't be able to see it again").waitFor();
    await screenshot(page, "admin-token-once-1280");
    await page.getByRole("button", { name: "Done" }).click();

    // Closing forgets it: the key's page, and the page holds no token any more.
    await page.getByRole("heading", { name: "Request logs" }).waitFor();
    seen.keyId = new URL(page.url()).pathname.split("/").pop();
    expect(await storageAndHtml(page)).not.toContain(token);
    const details = page.locator(".details");
    await details.getByText("api: 100 per 1 minute").waitFor();
    await details.getByText("1,000 monthly on day 1").waitFor();
    await details.getByText("in 30 days").waitFor();

    await page.getByRole("link", { name: "API keys" }).first().click();
    const row = keyRow(page, KEY_NAME);
    await row.waitFor();
    await expect(row.getByText("Active").count()).resolves.toBe(1);
    await expect(row.getByText("Sending access").count()).resolves.toBe(1);
    await expect(row.getByText("never").count()).resolves.toBe(1);
    expect(await row.textContent()).toContain("org_42");
    // A count per status.
    expect(await page.getByRole("button", { name: /^Active \d+$/ }).textContent()).toMatch(/Active\s*\d+/);
  });

  it("shows last used and the request count once the key is verified over gRPC; its logs and usage", async () => {
    const answer = await grpc.unary("verifyKey", {
      token: seen.token ?? "",
      context: { ip: "10.1.2.3", method: "POST", path: "/v1/charges", userAgent: "checkout/1.0" },
    });
    expect(answer.valid).toBe(true);
    const row = keyRow(page, KEY_NAME);
    const lastUsed = row.locator('td[data-label="Last used"]');
    expect(await lastUsed.textContent()).toBe("never");
    await expect
      .poll(
        async () => {
          await page.reload();
          await row.waitFor();
          return (await lastUsed.textContent()) ?? "";
        },
        { timeout: 10_000, interval: 300 },
      )
      .toMatch(/^(just now|\d+ seconds? ago)$/);
    expect(await row.getByRole("link", { name: /requests: logs of/ }).textContent()).toBe("1");

    await row.getByRole("link", { name: /requests: logs of/ }).click();
    await page.getByRole("heading", { name: "Request logs" }).waitFor();
    const logs = page.locator("#logs");
    await logs.getByText("10.1.2.3").waitFor();
    await logs.getByText("POST /v1/charges").waitFor();
    await page.getByText("1 request in the last 24 hours (hourly): 1 valid.").waitFor();
    await page.getByRole("button", { name: "30 days" }).click();
    await page.getByText("1 request in the last 30 days (daily): 1 valid.").waitFor();
    await page.locator(".recharts-surface").first().waitFor();
    // The outcome filter.
    await logs.getByLabel("Outcome").selectOption({ label: "Revoked" });
    await logs.getByText("No requests with this outcome yet.").waitFor();
    await logs.getByLabel("Outcome").selectOption({ label: "Valid" });
    await logs.getByText("10.1.2.3").waitFor();
  });

  it("edits the key, showing each validation error at its field", async () => {
    await page.goto(`${k.url}/keys/${seen.keyId}`);
    await page.getByRole("button", { name: "Edit" }).click();
    const dialog = page.getByRole("dialog", { name: "Edit API key" });
    await dialog.getByLabel("Name", { exact: true }).fill("   ");
    await dialog.getByLabel("Scopes").fill("read:users Bad Scope");
    await dialog.getByRole("button", { name: "Save" }).click();
    const nameField = dialog.locator(".field").filter({ has: page.getByLabel("Name", { exact: true }) });
    await nameField.locator(".field-error").waitFor();
    expect(await nameField.locator(".field-error").textContent()).toContain("1-100 characters");
    await screenshot(page, "admin-edit-errors-1280");

    await dialog.getByLabel("Name", { exact: true }).fill(EDITED_NAME);
    await dialog.getByRole("button", { name: "Save" }).click();
    const scopesField = dialog.locator(".field").filter({ has: page.getByLabel("Scopes") });
    await scopesField.locator(".field-error").waitFor();
    expect(await scopesField.locator(".field-error").textContent()).toContain("a-z, 0-9");

    await dialog.getByLabel("Scopes").fill("read:users");
    await dialog.getByLabel("Description").fill("Takes payments and refunds");
    await dialog.getByRole("button", { name: "Save" }).click();
    await heading(page, EDITED_NAME).waitFor();
    await page.getByText("Takes payments and refunds").waitFor();
  });

  it("disables and enables the key", async () => {
    await page.getByRole("button", { name: "Disable" }).click();
    await page.locator(".key-sub").getByText("Disabled").waitFor();
    await page.getByRole("button", { name: "Enable" }).click();
    await page.locator(".key-sub").getByText("Active").waitFor();
  });

  it("rotates with a grace period: the new token once, both keys linked", async () => {
    await page.getByRole("button", { name: "Rotate" }).click();
    const dialog = page.getByRole("dialog", { name: "Rotate API key" });
    await dialog.getByLabel("Grace period").selectOption({ label: "1 day" });
    await dialog.getByRole("button", { name: "Rotate" }).click();
    const tokenField = dialog.getByLabel("New API key");
    await tokenField.waitFor();
    const newToken = await tokenField.inputValue();
    expect(newToken).toMatch(/^kw_/);
    expect(newToken).not.toBe(seen.token);
    await dialog.getByRole("button", { name: "Done" }).click();
    await page.waitForURL((url) => url.pathname !== `/keys/${seen.keyId}`);
    seen.rotatedId = new URL(page.url()).pathname.split("/").pop();
    await page.getByRole("link", { name: "the previous key" }).waitFor();

    await page.goto(`${k.url}/keys`);
    const oldRow = keyRow(page, EDITED_NAME).filter({ hasText: "Rotated, in grace" });
    await oldRow.getByRole("link", { name: "successor" }).click();
    expect(new URL(page.url()).pathname).toBe(`/keys/${seen.rotatedId}`);
  });

  it("deletes the new key with a reason confirmed by typing its name, and lists it Revoked", async () => {
    await page.getByRole("button", { name: "Delete" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete API key" });
    await dialog.getByLabel("Reason").fill("moved to the new billing stack");
    const confirm = dialog.getByRole("button", { name: "Delete API key" });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel(/Type the key's name/).fill("not the name");
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel(/Type the key's name/).fill(EDITED_NAME);
    await confirm.click();
    await page.getByText("moved to the new billing stack").first().waitFor();
    await page.locator(".key-sub").getByText("Revoked").waitFor();

    await page.goto(`${k.url}/keys?status=revoked`);
    const row = keyRow(page, EDITED_NAME);
    await row.getByText("Revoked").waitFor();
  });

  it("downloads a small export at once", async () => {
    await page.goto(`${k.url}/keys?name=checkout`);
    await keyRow(page, EDITED_NAME).first().waitFor();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export CSV" }).click(),
    ]);
    const csv = readFileSync(await download.path(), "utf8");
    expect(csv.split("\n")[0]).toContain("name");
    expect(csv).toContain(EDITED_NAME);
    expect(csv).not.toContain("Member Mo");
    await page.getByText(/Exported \d+ rows: the download has started/).waitFor();
  });

  it("mails a link for a large export, and the link downloads in the browser", async () => {
    const busy = await adminApi.keys.create.mutate({ name: "Busy worker" });
    seen.busyKeyId = busy.key.id;
    for (let i = 0; i < 11; i++) {
      await Promise.all(
        Array.from({ length: 100 }, () => grpc.unary("verifyKey", { token: busy.token, context: { ip: "10.9.9.9" } })),
      );
    }
    await expect
      .poll(async () => (await adminApi.keys.get.query({ id: busy.key.id })).requestCount, { timeout: 15_000 })
      .toBe(1100);

    await page.goto(`${k.url}/keys/${busy.key.id}`);
    await page.getByRole("heading", { name: "Request logs" }).waitFor();
    await page.getByRole("button", { name: "Export logs" }).click();
    await page.getByText(/1,100 rows, more than 1,000: a link will be mailed to you/).waitFor();

    const [mail] = await k.smtp.waitFor(1, (m) => m.subject.includes("export is ready"), 30_000);
    expect(mail?.to).toEqual(["admin@example.com"]);
    const link = /https?:\/\/\S+\/exports\/[0-9a-f-]+\/download\?\S+/.exec(mail?.text ?? "")?.[0];
    expect(link).toBeDefined();
    seen.mailLink = link;

    const downloading = page.waitForEvent("download");
    await page.goto(link ?? "").catch(() => undefined);
    const csv = readFileSync(await (await downloading).path(), "utf8");
    expect(csv.trim().split("\n")).toHaveLength(1101);

    await page.goto(`${k.url}/exports`);
    await heading(page, "Exports").waitFor();
    await page.getByRole("row").filter({ hasText: "Request logs" }).getByText("Ready").first().waitFor();
  });

  it("shows it all in the audit log, filterable by action, key and actor", async () => {
    await page.goto(`${k.url}/audit`);
    await heading(page, "Audit log").waitFor();
    for (const action of [
      "key.create",
      "key.update",
      "key.disable",
      "key.enable",
      "key.rotate",
      "key.delete",
      "export.create",
    ]) {
      await page.getByRole("cell", { name: action, exact: true }).first().waitFor();
    }
    await page.getByLabel("Action").selectOption("key.delete");
    await expect.poll(() => page.getByRole("cell", { name: "key.delete", exact: true }).count()).toBe(1);
    await expect.poll(() => page.getByRole("cell", { name: "key.create", exact: true }).count()).toBe(0);
    expect(new URL(page.url()).searchParams.get("action")).toBe("key.delete");

    await page.goto(`${k.url}/keys/${seen.keyId}`);
    await page.getByRole("link", { name: "Audit log of this key" }).click();
    expect(new URL(page.url()).searchParams.get("key")).toBe(seen.keyId);
    await page.getByRole("cell", { name: "key.rotate", exact: true }).first().waitFor();
    await expect.poll(() => page.getByRole("cell", { name: "key.delete", exact: true }).count()).toBe(0);

    await page.goto(`${k.url}/audit?actor=admin%40example.com&action=export.create`);
    await expect.poll(() => page.getByRole("cell", { name: "export.create", exact: true }).count()).toBe(2);
  });

  it("pages through the keys 25 at a time, with filters in the URL", async () => {
    for (let i = 0; i < 26; i++) await adminApi.keys.create.mutate({ name: `Batch ${String(i).padStart(2, "0")}` });
    await page.goto(`${k.url}/keys`);
    const rows = page.locator("table tbody tr");
    await expect.poll(() => rows.count()).toBe(25);
    const firstPage = await rows.first().textContent();
    await page.getByRole("button", { name: "Next" }).click();
    await expect.poll(async () => (await rows.first().textContent()) !== firstPage).toBe(true);
    const allTab = page.getByRole("button", { name: /^All / });
    await expect.poll(async () => /\d/.test((await allTab.textContent()) ?? "")).toBe(true);
    const total = (await allTab.textContent())?.replace(/\D/g, "");
    expect(await rows.count()).toBe(Number(total) - 25);
    await page.getByRole("button", { name: "Previous" }).click();
    await expect.poll(() => rows.first().textContent()).toBe(firstPage);

    await page.getByRole("searchbox", { name: "Name" }).fill("batch 1");
    await expect.poll(() => new URL(page.url()).searchParams.get("name")).toBe("batch 1");
    await expect.poll(() => rows.count()).toBe(10);
    await page.getByRole("button", { name: /^Revoked / }).click();
    expect(new URL(page.url()).searchParams.get("status")).toBe("revoked");
    await page.getByText("No API key matches these filters.").waitFor();
    await page.goBack();
    await expect.poll(() => rows.count()).toBe(10);
  });

  it("works from the keyboard alone", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(10_000);
    const p = await context.newPage();
    await p.goto(`${k.url}/`);
    await p.getByLabel("API key").waitFor();
    await p.keyboard.type(admin.token);
    await p.keyboard.press("Enter");
    await heading(p, "API keys").waitFor();
    const focusOn = (name: string) => tabTo(p, name);
    await focusOn("Create API key");
    await p.keyboard.press("Enter");
    await heading(p, "Create API key").waitFor();
    await focusOn("create-name");
    await p.keyboard.type("Typed by keyboard");
    await p.keyboard.press("Enter");
    await p.getByLabel("New API key").waitFor();
    await focusOn("Done");
    await p.keyboard.press("Enter");
    await heading(p, "Typed by keyboard").waitFor();
    await focusOn("Edit");
    await p.keyboard.press("Enter");
    await p.getByRole("dialog", { name: "Edit API key" }).waitFor();
    await p.keyboard.press("Escape");
    await p.getByRole("dialog", { name: "Edit API key" }).waitFor({ state: "hidden" });
    await context.close();
  });

  it("screenshots every page as an admin", async () => {
    await screenshotEveryPage(page, "admin", seen.keyId ?? "");
  });

  it("shows a member everything with no control that changes anything", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(10_000);
    const p = await context.newPage();
    await p.goto(`${k.url}/`);
    await signIn(p, member.token);
    await heading(p, "API keys").waitFor();
    await p.getByText("Member (read-only)").waitFor();
    const mutating =
      /^(Create API key|Create|Export CSV|Export logs|Edit|Rotate|Disable|Enable|Delete|Delete API key|Download CSV|Save)$/;
    const controls = async () =>
      (await p.getByRole("button").allTextContents())
        .concat(await p.getByRole("link").allTextContents())
        .map((t) => t.trim())
        .filter((t) => mutating.test(t));
    await p.locator("table tbody tr").first().waitFor();
    expect(await controls()).toEqual([]);
    for (const path of [`/keys/${seen.keyId}`, `/keys/${seen.busyKeyId}`]) {
      await p.goto(`${k.url}${path}`);
      await p.getByRole("heading", { name: "Request logs" }).waitFor();
      expect(await controls()).toEqual([]);
    }
    await p.goto(`${k.url}/exports`);
    await p.getByRole("row").filter({ hasText: "Request logs" }).first().waitFor();
    expect(await controls()).toEqual([]);
    await p.getByText("only admins can download them").waitFor();
    await p.goto(`${k.url}/audit`);
    await p.getByRole("cell", { name: "key.create", exact: true }).first().waitFor();
    expect(await controls()).toEqual([]);
    await p.goto(`${k.url}/keys/new`);
    await p.getByText("Only admins can create API keys.").waitFor();
    expect(await controls()).toEqual([]);
    // The gateway refuses a member's change whatever the page shows.
    const refused = (await p.evaluate(`fetch("/trpc/keys.create", {
      method: "POST",
      headers: { "content-type": "application/json", "x-keyward-csrf": decodeURIComponent(document.cookie.match(/keyward_csrf=([^;]+)/)[1]) },
      body: JSON.stringify({ name: "sneaky" }),
    }).then((r) => r.status)`)) as number;
    expect(refused).toBe(403);

    await screenshotEveryPage(p, "member", seen.keyId ?? "");

    // Revoking the member's key ends the session at the next call.
    await adminApi.keys.delete.mutate({ id: member.id, reason: "left the team" });
    await p.goto(`${k.url}/keys`);
    await p.getByLabel("API key").waitFor();
    expect(new URL(p.url()).pathname).toBe("/sign-in");
    await context.close();
  });

  it("ran under its Content-Security-Policy with nothing refused and no script error", () => {
    expect(consoleErrors.filter((text) => /Content Security Policy|Refused to|Uncaught/i.test(text))).toEqual([]);
  });

  it("refuses a cookie change without the CSRF header; Bearer calls need none", async () => {
    const status = (await page.evaluate(`fetch("/trpc/keys.create", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "csrf" }),
    }).then((r) => r.status)`)) as number;
    expect(status).toBe(403);
    const bearer = await fetch(`${k.url}/trpc/keys.create`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin.token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "from curl" }),
    });
    expect(bearer.status).toBe(200);
  });

  it("signs out; the mail's link then shows the sign-in page and downloads after signing in", async () => {
    await page.goto(`${k.url}/keys`);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    expect((await adminContext.cookies(k.url)).map((c) => c.name)).not.toContain("keyward_session");
    const me = (await page.evaluate(`fetch("/trpc/me").then((r) => r.status)`)) as number;
    expect(me).toBe(401);

    await page.goto(seen.mailLink ?? "");
    await page.getByText("Sign in to download the export.").waitFor();
    expect(new URL(page.url()).pathname).toBe("/sign-in");
    const downloading = page.waitForEvent("download");
    await signIn(page, admin.token);
    const csv = readFileSync(await (await downloading).path(), "utf8");
    expect(csv.trim().split("\n")).toHaveLength(1101);
    expect(await storageAndHtml(page)).not.toContain(admin.token);
  });
});

/**
 * The console's Webhooks pages end to end, in real headless Chromium against
 * a real `keyward start`, delivering to a real HTTP receiver in this process:
 * an admin adds an endpoint (the signing secret once), a key's events arrive
 * signed with that secret and are listed as attempts, one is resent, the
 * endpoint is edited, disabled and deleted; a member sees the list and the
 * endpoint with no control that changes anything. Screenshots of the list
 * and the endpoint's page, admin and member, at 1280 and 390 px wide, go to
 * test-results/screenshots/. Steps run in order and share one Keyward.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatewayClient } from "../../src/cli/client.js";
import { type Receiver, signatureHeaders, startReceiver } from "../integration/webhooks/receiver.js";
import { heading, settled, signIn, storageAndHtml, tabTo } from "./console-helpers.js";
import { bootstrapAdmin, gatewayClient, type Keyward, launchChromium, screenshot, startKeyward } from "./harness.js";

let k: Keyward;
let browser: Browser;
let receiver: Receiver;
let admin: { id: string; token: string };
let adminApi: GatewayClient;
let member: { id: string; token: string };
let adminContext: BrowserContext;
let page: Page;

const consoleErrors: string[] = [];
const seen: { endpointId?: string; secret?: string; revokedEventId?: string } = {};

const DESCRIPTION = "Ops pager";

beforeAll(async () => {
  receiver = await startReceiver();
  k = await startKeyward();
  admin = await bootstrapAdmin(k, "admin@example.com");
  adminApi = gatewayClient(k, admin.token);
  const created = await adminApi.keys.create.mutate({
    name: "Member Mo",
    scopes: ["console:member"],
    claims: { email: "member@example.com" },
  });
  member = { id: created.key.id, token: created.token };
  browser = await launchChromium();
  adminContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  adminContext.setDefaultTimeout(10_000);
  page = await adminContext.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(error.message));
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await k?.close();
  await receiver?.close();
});

const attemptRows = (p: Page) => p.locator("#attempts table tbody tr");

/** The list and the endpoint's page at 1280 and 390 px wide. */
async function screenshotWebhookPages(p: Page, role: "admin" | "member", endpointId: string): Promise<void> {
  for (const width of [1280, 390]) {
    await p.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    await p.goto(`${k.url}/webhooks`);
    await heading(p, "Webhooks").waitFor();
    await p.locator("table tbody tr").first().waitFor();
    await settled(p);
    await screenshot(p, `${role}-webhooks-${width}`);
    await p.goto(`${k.url}/webhooks/${endpointId}`);
    await p.getByRole("heading", { name: "Delivery attempts" }).waitFor();
    await attemptRows(p).first().waitFor();
    await settled(p);
    await screenshot(p, `${role}-webhook-${width}`);
  }
  await p.setViewportSize({ width: 1280, height: 900 });
}

describe("the console's webhooks", { timeout: 60_000 }, () => {
  it("lists no endpoint at first, under Webhooks in the top navigation", async () => {
    await page.goto(`${k.url}/`);
    await signIn(page, admin.token);
    await heading(page, "API keys").waitFor();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Webhooks" }).click();
    await heading(page, "Webhooks").waitFor();
    expect(new URL(page.url()).pathname).toBe("/webhooks");
    await page.getByText("No webhook endpoints yet").waitFor();
  });

  it("adds an endpoint: gateway errors at their field, then the signing secret once with Copy", async () => {
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const dialog = page.getByRole("dialog", { name: "Add endpoint" });
    await dialog.getByText("None checked: the endpoint gets every event").waitFor();
    await dialog.getByLabel("URL").fill("ftp://hooks.example.com/keyward");
    await dialog.getByRole("button", { name: "Add", exact: true }).click();
    const urlField = dialog.locator(".field").filter({ has: page.getByLabel("URL") });
    await urlField.locator(".field-error").waitFor();
    expect(await urlField.locator(".field-error").textContent()).toContain("must start with http:// or https://");
    await screenshot(page, "admin-webhook-add-errors-1280");

    await dialog.getByLabel("URL").fill(receiver.url);
    await dialog.getByLabel("Description").fill(DESCRIPTION);
    await dialog.getByLabel("key.created").check();
    await dialog.getByLabel("key.revoked").check();
    await dialog.getByLabel("key.rotated").check();
    await dialog.getByText("3 checked: the endpoint gets only these.").waitFor();
    await dialog.getByRole("button", { name: "Add", exact: true }).click();

    const shown = page.getByRole("dialog", { name: "Endpoint added" });
    const secretField = shown.getByLabel("Signing secret");
    await secretField.waitFor();
    const secret = await secretField.inputValue();
    expect(secret).toMatch(/^whsec_/);
    seen.secret = secret;
    await shown.getByText("You won't be able to see it again").waitFor();
    await adminContext.grantPermissions(["clipboard-read", "clipboard-write"], { origin: k.url });
    await shown.getByRole("button", { name: "Copy" }).click();
    await shown.getByText("Copied to the clipboard.").waitFor();
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(secret);
    await page.evaluate("navigator.clipboard.writeText('')");
    await screenshot(page, "admin-webhook-secret-once-1280");
    await shown.getByRole("button", { name: "Done" }).click();

    // Closing forgets it: the endpoint's page, and nothing the page holds has the secret.
    await page.getByRole("heading", { name: "Delivery attempts" }).waitFor();
    seen.endpointId = new URL(page.url()).pathname.split("/").pop();
    await heading(page, receiver.url).waitFor();
    await page.getByText("No delivery attempts yet.").waitFor();
    expect(await storageAndHtml(page)).not.toContain(secret.slice(6));
    const details = page.locator(".details");
    for (const type of ["key.created", "key.rotated", "key.revoked"]) await details.getByText(type).waitFor();
    await details.getByText("admin@example.com").waitFor();
    // The gateway never shows it again either.
    const got = await adminApi.webhooks.get.query({ id: seen.endpointId ?? "" });
    expect(JSON.stringify(got)).not.toContain(secret.slice(6));
  });

  it("lists a key's events as delivery attempts answered 200, signed with that secret", async () => {
    const key = await adminApi.keys.create.mutate({ name: "Hooked key" });
    await adminApi.keys.delete.mutate({ id: key.key.id, reason: "testing webhooks" });
    const delivered = await receiver.waitFor(2, (r) => r.status === 200);
    expect(delivered.map((r) => r.json.type)).toEqual(["key.created", "key.revoked"]);
    for (const r of delivered)
      expect(() => new Webhook(seen.secret ?? "").verify(r.body, signatureHeaders(r))).not.toThrow();
    seen.revokedEventId = String(delivered[1]?.headers["webhook-id"]);

    // The attempts list looks again when asked (and by itself every few seconds).
    await page.getByRole("button", { name: "Refresh" }).click();
    await expect.poll(() => attemptRows(page).count(), { timeout: 15_000 }).toBe(2);
    const revoked = attemptRows(page).filter({ hasText: "key.revoked" });
    await revoked.getByText("Succeeded").waitFor();
    await revoked.getByText("200", { exact: true }).waitFor();
    await revoked.getByText(seen.revokedEventId).waitFor();
    expect(await revoked.getByText(/^\d+ ms$/).count()).toBe(1);
  });

  it("resends an event: the receiver gets it again with the same webhook-id, listed as resent", async () => {
    const revoked = attemptRows(page).filter({ hasText: "key.revoked" });
    await revoked.getByRole("button", { name: /^Resend key.revoked/ }).click();
    await page.getByText(/is queued to be sent again/).waitFor();
    const again = await receiver.waitFor(2, (r) => r.headers["webhook-id"] === seen.revokedEventId && r.status === 200);
    expect(again[1]?.json.type).toBe("key.revoked");
    await expect.poll(() => attemptRows(page).count(), { timeout: 15_000 }).toBe(3);
    await attemptRows(page).filter({ hasText: "resent" }).getByText("Succeeded").waitFor();
  });

  it("edits the endpoint: errors at the field, then the URL, description and events", async () => {
    await page.getByRole("button", { name: "Edit" }).click();
    const dialog = page.getByRole("dialog", { name: "Edit endpoint" });
    await dialog.getByLabel("URL").fill("https://user:pw@hooks.example.com/x");
    await dialog.getByRole("button", { name: "Save" }).click();
    const urlField = dialog.locator(".field").filter({ has: page.getByLabel("URL") });
    await urlField.locator(".field-error").waitFor();
    expect(await urlField.locator(".field-error").textContent()).toContain("must not hold a user name or password");

    await dialog.getByLabel("URL").fill(`${receiver.url}?team=ops`);
    await dialog.getByLabel("Description").fill(`${DESCRIPTION}, night shift`);
    await dialog.getByLabel("key.rotated").uncheck();
    expect(await dialog.getByLabel(/^Enabled/).isChecked()).toBe(true);
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "hidden" });
    await heading(page, `${receiver.url}?team=ops`).waitFor();
    await page.locator(".details").getByText(`${DESCRIPTION}, night shift`).waitFor();
    expect(await page.locator(".details").getByText("key.rotated").count()).toBe(0);
  });

  it("lists the endpoint with its events, state and latest delivery", async () => {
    await page.getByRole("link", { name: "Webhooks", exact: true }).first().click();
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: `${receiver.url}?team=ops` }) });
    await row.waitFor();
    await row.getByText(`${DESCRIPTION}, night shift`).waitFor();
    const cell = (label: string) => row.locator(`td[data-label="${label}"]`);
    expect(await cell("Events").locator("code").allTextContents()).toEqual(["key.created", "key.revoked"]);
    await cell("State").getByText("Enabled").waitFor();
    await cell("Created")
      .getByText(/ago|just now/)
      .waitFor();
    // The newest attempt: the resent key.revoked, answered 200.
    const latest = cell("Latest delivery");
    await latest.getByText("Succeeded").waitFor();
    await latest.getByText("200", { exact: true }).waitFor();
    await latest.getByText("key.revoked").waitFor();
  });

  it("works from the keyboard alone", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(10_000);
    const p = await context.newPage();
    await p.goto(`${k.url}/webhooks`);
    await signIn(p, admin.token);
    await heading(p, "Webhooks").waitFor();
    await p.locator("table tbody tr").first().waitFor();
    await tabTo(p, "Add endpoint");
    await p.keyboard.press("Enter");
    await p.getByRole("dialog", { name: "Add endpoint" }).waitFor();
    await tabTo(p, "webhook-create-url");
    await p.keyboard.type("https://hooks.example.com/typed");
    await p.keyboard.press("Enter");
    await p.getByLabel("Signing secret").waitFor();
    await tabTo(p, "Done");
    await p.keyboard.press("Enter");
    await heading(p, "https://hooks.example.com/typed").waitFor();
    await tabTo(p, "Edit");
    await p.keyboard.press("Enter");
    await p.getByRole("dialog", { name: "Edit endpoint" }).waitFor();
    await p.keyboard.press("Escape");
    await p.getByRole("dialog", { name: "Edit endpoint" }).waitFor({ state: "hidden" });
    await tabTo(p, "Delete");
    await p.keyboard.press("Enter");
    // Tabbing before the dialog is open walks the page behind it (seen on a loaded machine).
    await p.getByRole("dialog", { name: "Delete endpoint" }).waitFor();
    await tabTo(p, "Delete endpoint");
    await p.keyboard.press("Enter");
    await heading(p, "Webhooks").waitFor();
    await expect.poll(() => p.getByText("https://hooks.example.com/typed").count()).toBe(0);
    await context.close();
  });

  it("screenshots the list and the endpoint as an admin", async () => {
    await screenshotWebhookPages(page, "admin", seen.endpointId ?? "");
  });

  it("shows a member the list and the endpoint with no control that changes anything", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(10_000);
    const p = await context.newPage();
    await p.goto(`${k.url}/webhooks`);
    await signIn(p, member.token);
    await heading(p, "Webhooks").waitFor();
    await p.getByText("Member (read-only)").waitFor();
    const mutating = /^(Add endpoint|Add|Edit|Disable|Enable|Delete|Delete endpoint|Save|Resend.*)$/;
    const controls = async () =>
      (await p.getByRole("button").allTextContents())
        .concat(await p.getByRole("link").allTextContents())
        .map((t) => t.trim())
        .filter((t) => mutating.test(t));
    const row = p.getByRole("row").filter({ hasText: `${receiver.url}?team=ops` });
    await row.getByText("Succeeded").waitFor();
    expect(await controls()).toEqual([]);
    await row.getByRole("link").click();
    await p.getByRole("heading", { name: "Delivery attempts" }).waitFor();
    await expect.poll(() => attemptRows(p).count()).toBe(3);
    expect(await controls()).toEqual([]);
    expect(await p.locator("#attempts th").allTextContents()).not.toContain("Actions");
    expect(await storageAndHtml(p)).not.toContain((seen.secret ?? "").slice(6));

    await screenshotWebhookPages(p, "member", seen.endpointId ?? "");
    await context.close();
  });

  it("disables the endpoint: no more deliveries, resend off", async () => {
    await page.goto(`${k.url}/webhooks/${seen.endpointId}`);
    await page.getByRole("heading", { name: "Delivery attempts" }).waitFor();
    await page.getByRole("button", { name: "Disable" }).click();
    await page.locator(".key-sub").getByText("Disabled").waitFor();
    await page.getByText("No event is sent to it until it is enabled again.").waitFor();
    await page.getByText("Resend is off while the endpoint is disabled.").waitFor();
    for (const button of await page.getByRole("button", { name: /^Resend / }).all()) {
      expect(await button.isDisabled()).toBe(true);
    }
    await screenshot(page, "admin-webhook-disabled-1280");
    const before = receiver.requests.length;
    const quiet = await adminApi.keys.create.mutate({ name: "Unheard key" });
    await adminApi.keys.delete.mutate({ id: quiet.key.id });
    await page.goto(`${k.url}/webhooks`);
    await page
      .getByRole("row")
      .filter({ hasText: `${receiver.url}?team=ops` })
      .getByText("Disabled")
      .waitFor();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(receiver.requests.length).toBe(before);
  });

  it("deletes the endpoint after confirming, and lists it no more", async () => {
    await page.goto(`${k.url}/webhooks/${seen.endpointId}`);
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Delete endpoint" });
    await dialog.getByText("This cannot be undone.").waitFor();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await dialog.getByRole("button", { name: "Delete endpoint" }).click();
    await heading(page, "Webhooks").waitFor();
    await page.getByText("No webhook endpoints yet").waitFor();
    expect((await adminApi.webhooks.list.query()).endpoints).toEqual([]);
  });

  it("ran under its Content-Security-Policy with nothing refused and no script error", () => {
    expect(consoleErrors.filter((text) => /Content Security Policy|Refused to|Uncaught/i.test(text))).toEqual([]);
  });
});

/**
 * The console while the Redis holding its sign-in sessions is away, in real
 * headless Chromium against a real `keyward start` whose REDIS_URL is a
 * redis-server of this test's own: the test stops it (SAVE, then SIGKILL, so
 * the sessions are still there when it comes back) and starts it again. The
 * gateway then answers sign-in and every cookie call 503 "sessions are
 * unavailable: …"; the console must say so, keep the admin signed in, and
 * carry on by itself once Redis is back. Screenshots of each state go to
 * test-results/screenshots/. Steps run in order and share one Keyward.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OwnRedis, ownRedis } from "../integration/workers/harness.js";
import { heading, settled, signIn } from "./console-helpers.js";
import { bootstrapAdmin, gatewayClient, type Keyward, launchChromium, screenshot, startKeyward } from "./harness.js";

const UNAVAILABLE = "sessions are unavailable: Redis cannot be reached; try again shortly";
/** The gateway's session connection reconnects within 5 s (reconnectDelay), the console probes every 3 s. */
const RECOVERY_MS = 20_000;

let redis: OwnRedis;
let k: Keyward;
let browser: Browser;
let admin: { id: string; token: string };
let context: BrowserContext;
let page: Page;
/** Uncaught script errors: an outage must not crash the console. */
const pageErrors: string[] = [];

beforeAll(async () => {
  redis = await ownRedis();
  await redis.start();
  // Each click of Sign in during the outage counts against the per-address limit (10 a minute by default).
  k = await startKeyward({ REDIS_URL: redis.url, KEYWARD_SIGNIN_PER_MINUTE: "100" });
  admin = await bootstrapAdmin(k, "admin@example.com");
  await gatewayClient(k, admin.token).keys.create.mutate({ name: "Checkout service" });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(error.message));
}, 90_000);

afterAll(async () => {
  await browser?.close();
  // Keyward first, while its Redis still answers, then the Redis.
  await k?.close();
  await redis?.stop();
});

const banner = (p: Page) => p.locator(".outage-banner");

/** Marks the loaded page, so that a step can tell the console carried on without a reload. */
async function markPage(p: Page): Promise<void> {
  await p.evaluate("window.__sameDocument = true");
}
async function sameDocument(p: Page): Promise<boolean> {
  return (await p.evaluate("window.__sameDocument === true")) as boolean;
}

describe("the console while its sessions' Redis is away", { timeout: 90_000 }, () => {
  it("says why signing in fails on the sign-in form, and signs in once Redis is back, without a reload", async () => {
    await page.goto(`${k.url}/keys`);
    await page.getByLabel("API key").waitFor();
    await markPage(page);
    await redis.crash();

    await signIn(page, admin.token);
    const refusal = page.locator(".sign-in-card").getByRole("alert");
    await expect.poll(() => refusal.textContent()).toBe(UNAVAILABLE);
    expect(new URL(page.url()).pathname).toBe("/sign-in");
    await screenshot(page, "sessions-down-sign-in-1280");

    await redis.start();
    // The admin clicks Sign in again until the gateway has its Redis back; the pasted key is still there.
    const deadline = Date.now() + RECOVERY_MS;
    while (!(await heading(page, "API keys").isVisible())) {
      if (Date.now() > deadline) throw new Error(`still not signed in ${RECOVERY_MS} ms after Redis came back`);
      await expect.poll(() => page.getByRole("button", { name: "Sign in" }).isEnabled()).toBe(true);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForTimeout(1_000);
    }
    expect(await page.locator(".who-email").textContent()).toBe("admin@example.com");
    expect(await sameDocument(page)).toBe(true);
    await settled(page);
    await screenshot(page, "sessions-back-signed-in-1280");
  });

  it("shows a signed-in admin's next call failing as a banner with the gateway's message, not a sign-out", async () => {
    await redis.crash();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit log" }).click();
    await heading(page, "Audit log").waitFor();
    await expect.poll(() => banner(page).textContent()).toContain(UNAVAILABLE);
    expect(await banner(page).getAttribute("role")).toBe("alert");
    expect(new URL(page.url()).pathname).toBe("/audit");
    expect(await page.locator(".who-email").textContent()).toBe("admin@example.com");
    // Said once, by the banner: the page's own note points at it rather than repeat it.
    await page.getByText("The gateway cannot answer now: see the notice at the top of the page.").waitFor();
    expect(await page.getByText(UNAVAILABLE).count()).toBe(1);
    await screenshot(page, "sessions-down-signed-in-1280");
  });

  it("carries on by itself once Redis is back: the banner goes and the failed page loads", async () => {
    await redis.start();
    await banner(page).waitFor({ state: "detached", timeout: RECOVERY_MS });
    await page.getByRole("cell", { name: "key.create", exact: true }).first().waitFor();
    expect(await page.getByText(UNAVAILABLE).count()).toBe(0);
    expect(new URL(page.url()).pathname).toBe("/audit");
    expect(await sameDocument(page)).toBe(true);
    await settled(page);
    await screenshot(page, "sessions-back-console-1280");
  });

  it("keeps the admin signed in when Sign out cannot end the session, and signs out once Redis is back", async () => {
    await redis.crash();
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect.poll(() => banner(page).textContent()).toContain(UNAVAILABLE);
    // The session lives on in Redis: the console must not pretend it has ended.
    expect(new URL(page.url()).pathname).toBe("/audit");
    expect(await page.locator(".who-email").textContent()).toBe("admin@example.com");
    await screenshot(page, "sessions-down-sign-out-1280");

    await redis.start();
    await banner(page).waitFor({ state: "detached", timeout: RECOVERY_MS });
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    expect(new URL(page.url()).pathname).toBe("/sign-in");
    // Signed out for real: the gateway no longer knows the cookie.
    await page.goto(`${k.url}/keys`);
    await page.getByLabel("API key").waitFor();
  });

  it("opened during the outage: says why the console cannot load, and loads by itself once Redis is back", async () => {
    await signIn(page, admin.token);
    await heading(page, "API keys").waitFor();
    await redis.crash();

    await page.goto(`${k.url}/keys`);
    await markPage(page);
    await expect.poll(() => page.getByRole("alert").first().textContent()).toContain(UNAVAILABLE);
    expect(new URL(page.url()).pathname).toBe("/keys");
    await screenshot(page, "sessions-down-console-opened-1280");

    await redis.start();
    await heading(page, "API keys").waitFor({ timeout: RECOVERY_MS });
    await page.getByRole("link", { name: "Checkout service", exact: true }).waitFor();
    expect(await sameDocument(page)).toBe(true);
  });

  it("keeps the admin signed in when Sign out gets no answer at all, and says so by the button", async () => {
    await context.setOffline(true);
    try {
      await page.getByRole("button", { name: "Sign out" }).click();
      await expect
        .poll(() => page.locator(".sign-out-failure").textContent())
        .toBe("Sign out did not go through (the gateway did not answer). You are still signed in; try again.");
      expect(await page.locator(".sign-out-failure").getAttribute("role")).toBe("alert");
      expect(new URL(page.url()).pathname).toBe("/keys");
      expect(await page.locator(".who-email").textContent()).toBe("admin@example.com");
      await screenshot(page, "offline-sign-out-1280");
    } finally {
      await context.setOffline(false);
    }
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    expect(await page.locator(".sign-out-failure").count()).toBe(0);
    // Signed out for real: the gateway no longer knows the cookie.
    await page.goto(`${k.url}/keys`);
    await page.getByLabel("API key").waitFor();
  });

  it("threw no script error through it all", () => {
    expect(pageErrors).toEqual([]);
  });
});

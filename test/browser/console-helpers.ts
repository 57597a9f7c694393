import type { Page } from "playwright-core";

/** What the console's browser tests share: signing in, finding headings, what the page's script could read. */

export async function signIn(p: Page, token: string): Promise<void> {
  await p.getByLabel("API key").fill(token);
  await p.getByRole("button", { name: "Sign in" }).click();
}

export const heading = (p: Page, name: string) => p.getByRole("heading", { level: 1, name, exact: true });

/** localStorage, sessionStorage, the readable cookies and the page's HTML: a token must be in none of them. */
export async function storageAndHtml(p: Page): Promise<string> {
  const local = (await p.evaluate("JSON.stringify(Object.entries(localStorage))")) as string;
  const session = (await p.evaluate("JSON.stringify(Object.entries(sessionStorage))")) as string;
  const cookies = (await p.evaluate("document.cookie")) as string;
  return `${local}\n${session}\n${cookies}\n${await p.content()}`;
}

/** Waits until the page has loaded what it shows: no request in flight, no "Loading …" left. */
export async function settled(p: Page): Promise<void> {
  await p.waitForLoadState("networkidle");
  await p
    .getByText(/^Loading .*…$/)
    .first()
    .waitFor({ state: "detached" });
}

/** Presses Tab until the focused element has this text (or this id). */
export async function tabTo(p: Page, name: string, max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    await p.keyboard.press("Tab");
    const [text, id] = (await p.evaluate("[document.activeElement.textContent, document.activeElement.id]")) as [
      string,
      string,
    ];
    if (text.trim() === name || id === name) return;
  }
  throw new Error(`Tab never reached ${name}`);
}

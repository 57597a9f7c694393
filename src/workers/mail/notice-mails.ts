import { escapeHtml, htmlDocument } from "./html.js";
import type { MailMessage } from "./mailer.js";

/** A key as notices name it (the gateway's JSON of it, read loosely). */
export interface NoticeKey {
  id: string;
  name: string;
  tokenHint: string;
  subject: string | null;
  expireTime: string | null;
  remaining: number | null;
}

export function noticeKey(value: unknown): NoticeKey {
  const k = (value ?? {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    id: text(k.id),
    name: text(k.name),
    tokenHint: text(k.tokenHint),
    subject: typeof k.subject === "string" ? k.subject : null,
    expireTime: typeof k.expireTime === "string" ? k.expireTime : null,
    remaining: typeof k.remaining === "number" ? k.remaining : null,
  };
}

const keyLine = (k: NoticeKey) =>
  `${k.name} (${[k.id, k.tokenHint, k.subject ? `subject ${k.subject}` : ""].filter(Boolean).join(", ")})`;

/** To the admins and the key's owner: a key was found in public and stopped. */
export function leakMail(
  to: string,
  facts: { key: NoticeKey; url: string; source: string; action: string; consoleUrl: string },
): MailMessage {
  const verb = facts.action === "disable" ? "disabled" : "revoked";
  const text = [
    `The Keyward key ${keyLine(facts.key)} was found in public and has been ${verb}.`,
    "",
    `Where: ${facts.url}`,
    `Reported by: ${facts.source}`,
    "",
    verb === "revoked"
      ? "Every request with it now fails. Create a new key (or rotate) and update whatever used this one."
      : "Every request with it now fails until an admin enables it again; rotate it rather than enable it.",
    `The console: ${facts.consoleUrl}`,
    "",
  ].join("\n");
  const html = htmlDocument(
    "A Keyward key was leaked",
    `<p>The Keyward key <strong>${escapeHtml(facts.key.name)}</strong> <code>${escapeHtml(facts.key.id)}</code> (${escapeHtml(
      facts.key.tokenHint,
    )}) was found in public and has been <strong>${verb}</strong>.</p>
<p>Where: ${escapeHtml(facts.url)}<br>Reported by: ${escapeHtml(facts.source)}</p>
<p><a href="${escapeHtml(facts.consoleUrl)}">Open the console</a> to create a new key.</p>`,
  );
  return {
    to,
    subject: `Keyward: key "${facts.key.name}" was leaked and ${verb}`,
    text,
    html,
    links: [facts.consoleUrl],
  };
}

/** To the admins: an endpoint failed for days and was disabled. */
export function endpointDisabledMail(
  to: string,
  facts: { id: string; url: string; reason: string; failingSince: string | null; consoleUrl: string },
): MailMessage {
  const host = hostOf(facts.url);
  const text = [
    `Keyward disabled the webhook endpoint ${facts.id} (${host}): ${facts.reason}.`,
    facts.failingSince ? `It has failed since ${facts.failingSince}.` : "",
    "",
    "No events are sent to it until an admin enables it again:",
    `  keyward webhooks update ${facts.id} --enable`,
    `Its attempts: keyward webhooks attempts ${facts.id}`,
    "",
  ].join("\n");
  const html = htmlDocument(
    "A Keyward webhook endpoint was disabled",
    `<p>Keyward disabled the webhook endpoint <code>${escapeHtml(facts.id)}</code> (${escapeHtml(host)}): ${escapeHtml(
      facts.reason,
    )}.</p>${facts.failingSince ? `<p>It has failed since ${escapeHtml(facts.failingSince)}.</p>` : ""}
<p>No events are sent to it until an admin enables it again (<code>keyward webhooks update ${escapeHtml(
      facts.id,
    )} --enable</code>).</p>`,
  );
  return { to, subject: `Keyward: webhook endpoint ${host} disabled after failing`, text, html, links: [] };
}

/** To a key's owner (claims.email): it expires soon, or is low on credits. */
export function keyReminderMail(
  to: string,
  facts: { key: NoticeKey; kind: "expiring" | "credits_low"; consoleUrl: string },
): MailMessage {
  const k = facts.key;
  const what =
    facts.kind === "expiring"
      ? `expires on ${k.expireTime ?? "(unknown)"}`
      : `has ${k.remaining ?? 0} credit${k.remaining === 1 ? "" : "s"} left`;
  const advice =
    facts.kind === "expiring"
      ? "Ask an admin to rotate it (a new key with the same settings) before then."
      : "Ask an admin for more credits, or wait for its next refill.";
  const text = [`Your Keyward key ${keyLine(k)} ${what}.`, "", advice, ""].join("\n");
  const html = htmlDocument(
    "Keyward key reminder",
    `<p>Your Keyward key <strong>${escapeHtml(k.name)}</strong> <code>${escapeHtml(k.id)}</code> ${escapeHtml(what)}.</p><p>${escapeHtml(
      advice,
    )}</p>`,
  );
  return {
    to,
    subject:
      facts.kind === "expiring"
        ? `Keyward: your key "${k.name}" expires ${(k.expireTime ?? "soon").slice(0, 10)}`
        : `Keyward: your key "${k.name}" is low on credits`,
    text,
    html,
    links: [facts.consoleUrl],
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "?";
  }
}

import { escapeHtml, formatBytes, htmlDocument } from "./html.js";
import type { MailMessage } from "./mailer.js";

/** What the mails about one export say. */
export interface ExportMailFacts {
  exportId: string;
  /** "API keys" or "key logs". */
  what: string;
  requestedBy: string;
  createdAt: Date;
}

export function exportReadyMail(
  facts: ExportMailFacts & { url: string; rowCount: number; byteSize: number; expiresAt: Date },
): MailMessage {
  const rows = `${facts.rowCount.toLocaleString("en-US")} row${facts.rowCount === 1 ? "" : "s"}`;
  const size = formatBytes(facts.byteSize);
  const until = facts.expiresAt.toISOString();
  // The token stays a shell variable: a mail never carries one.
  const curl = `curl -fsS -H "Authorization: Bearer $KEYWARD_TOKEN" -o keyward-${facts.exportId}.csv '${facts.url}'`;
  const text = [
    `Your export of ${facts.what} is ready: ${rows}, ${size}.`,
    "",
    "Open the link in a browser signed in to the Keyward console as an admin (it asks you to sign in",
    "if you are not), or download it with your admin key; the link alone is not enough:",
    facts.url,
    "",
    `  ${curl}`,
    "",
    `The link works until ${until}; then the export expires and its file is deleted.`,
    `Export ${facts.exportId}, asked for by ${facts.requestedBy} at ${facts.createdAt.toISOString()}.`,
    "",
  ].join("\n");
  const html = htmlDocument(
    "Your Keyward export is ready",
    `<p>Your export of ${escapeHtml(facts.what)} is ready: <strong>${escapeHtml(rows)}</strong>, ${escapeHtml(size)}.</p>
<p><a href="${escapeHtml(facts.url)}">Download the CSV</a> (admins only: in a browser signed in to the Keyward console, or with your admin key as <code>Authorization: Bearer</code>).</p>
<pre style="background: #f6f8fa; padding: 8px; white-space: pre-wrap">${escapeHtml(curl)}</pre>
<p>The link works until ${escapeHtml(until)}; then the export expires and its file is deleted.</p>
<p style="color: #656d76">Export ${escapeHtml(facts.exportId)}, asked for by ${escapeHtml(facts.requestedBy)} at ${escapeHtml(facts.createdAt.toISOString())}.</p>`,
  );
  return {
    to: facts.requestedBy,
    subject: `Your Keyward export is ready (${rows})`,
    text,
    html,
    links: [facts.url],
  };
}

export function exportFailedMail(facts: ExportMailFacts & { error: string; attempts: number }): MailMessage {
  const tries = `${facts.attempts} attempt${facts.attempts === 1 ? "" : "s"}`;
  const text = [
    `Your export of ${facts.what} failed after ${tries}:`,
    "",
    `  ${facts.error}`,
    "",
    "Nothing was kept. Ask for the export again; if it fails again, show this mail to whoever runs Keyward.",
    `Export ${facts.exportId}, asked for by ${facts.requestedBy} at ${facts.createdAt.toISOString()}.`,
    "",
  ].join("\n");
  const html = htmlDocument(
    "Your Keyward export failed",
    `<p>Your export of ${escapeHtml(facts.what)} failed after ${escapeHtml(tries)}:</p>
<blockquote style="border-left: 3px solid #d1242f; margin: 0; padding-left: 8px">${escapeHtml(facts.error)}</blockquote>
<p>Nothing was kept. Ask for the export again; if it fails again, show this mail to whoever runs Keyward.</p>
<p style="color: #656d76">Export ${escapeHtml(facts.exportId)}, asked for by ${escapeHtml(facts.requestedBy)} at ${escapeHtml(facts.createdAt.toISOString())}.</p>`,
  );
  return { to: facts.requestedBy, subject: "Your Keyward export failed", text, html };
}

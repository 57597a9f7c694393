import { escapeHtml, htmlDocument } from "./html.js";
import type { MailMessage } from "./mailer.js";

/** A key as the digest names it. */
export interface DigestKey {
  id: string;
  name: string;
  subject: string;
  /** ISO-8601, or "" when never. */
  createTime: string;
  lastUsedTime: string;
  /** ISO-8601, or "" when it never expires. */
  expireTime?: string;
  /** Credits left; null when unlimited. */
  remaining?: number | null;
  /** The key's claims.email when it is an address: its owner's own reminder goes there. */
  ownerEmail?: string;
}

export interface DigestFacts {
  newlyInactive: DigestKey[];
  autoRevoked: DigestKey[];
  rotationDue: DigestKey[];
  /** Keys that came within 7 days (or 1 day) of their expiry in this sweep. */
  expiringSoon?: DigestKey[];
  /** Keys that fell below their credit threshold in this sweep. */
  creditsLow?: DigestKey[];
  expiredKeys: number;
  inactiveDays: number;
  autoRevokeDays: number;
  rotationDays: number;
  consoleUrl: string;
}

/** Keys listed per section; the rest is counted, so a big first sweep still makes a readable mail. */
const LISTED_PER_SECTION = 200;

/** True when the digest has something to say; otherwise no mail is sent. */
export function digestHasNews(facts: DigestFacts): boolean {
  return (
    facts.newlyInactive.length +
      facts.autoRevoked.length +
      facts.rotationDue.length +
      (facts.expiringSoon?.length ?? 0) +
      (facts.creditsLow?.length ?? 0) >
    0
  );
}

const plural = (n: number, word: string) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;

export function digestMail(to: string, facts: DigestFacts): MailMessage {
  interface Section {
    title: string;
    keys: DigestKey[];
    detail: (k: DigestKey) => string;
  }
  const all: Section[] = [
    {
      title: `Became inactive (not used for ${facts.inactiveDays} days)`,
      keys: facts.newlyInactive,
      detail: (k) => `last used ${k.lastUsedTime || "never"}`,
    },
    {
      title: `Revoked for inactivity (not used for ${facts.autoRevokeDays} days)`,
      keys: facts.autoRevoked,
      detail: (k) => `last used ${k.lastUsedTime || "never"}`,
    },
    {
      title: `Older than ${facts.rotationDays} days and never rotated`,
      keys: facts.rotationDue,
      detail: (k) => `created ${k.createTime}`,
    },
    {
      title: "Expiring within 7 days",
      keys: facts.expiringSoon ?? [],
      detail: (k) => `expires ${k.expireTime || "?"}`,
    },
    {
      title: "Low on credits",
      keys: facts.creditsLow ?? [],
      detail: (k) => `${k.remaining ?? 0} credits left`,
    },
  ];
  const sections = all.filter((s) => s.keys.length > 0);

  const summary = [
    facts.newlyInactive.length > 0 ? `${plural(facts.newlyInactive.length, "key")} became inactive` : "",
    facts.autoRevoked.length > 0 ? `${plural(facts.autoRevoked.length, "key")} revoked for inactivity` : "",
    facts.rotationDue.length > 0 ? `${plural(facts.rotationDue.length, "key")} due for rotation` : "",
    (facts.expiringSoon?.length ?? 0) > 0 ? `${plural(facts.expiringSoon?.length ?? 0, "key")} expiring soon` : "",
    (facts.creditsLow?.length ?? 0) > 0 ? `${plural(facts.creditsLow?.length ?? 0, "key")} low on credits` : "",
  ].filter(Boolean);

  const line = (k: DigestKey, detail: string) =>
    `${k.name} (${k.id}${k.subject ? `, subject ${k.subject}` : ""}), ${detail}`;
  const text: string[] = [`Keyward maintenance: ${summary.join("; ")}.`, ""];
  let html = `<p>Keyward maintenance: ${escapeHtml(summary.join("; "))}.</p>`;
  for (const section of sections) {
    const shown = section.keys.slice(0, LISTED_PER_SECTION);
    const more = section.keys.length - shown.length;
    text.push(`${section.title}: ${section.keys.length}`);
    for (const k of shown) text.push(`  - ${line(k, section.detail(k))}`);
    if (more > 0) text.push(`  ... and ${more} more`);
    text.push("");
    html += `<h3 style="font-size: 15px">${escapeHtml(section.title)}: ${section.keys.length}</h3><ul>`;
    for (const k of shown) {
      html += `<li><strong>${escapeHtml(k.name)}</strong> <code>${escapeHtml(k.id)}</code>${
        k.subject ? `, subject ${escapeHtml(k.subject)}` : ""
      }, ${escapeHtml(section.detail(k))}</li>`;
    }
    if (more > 0) html += `<li>... and ${more} more</li>`;
    html += "</ul>";
  }
  if (facts.expiredKeys > 0) {
    text.push(
      `${plural(facts.expiredKeys, "key")} reached ${facts.expiredKeys === 1 ? "its" : "their"} expiry since the last sweep.`,
      "",
    );
    html += `<p>${escapeHtml(plural(facts.expiredKeys, "key"))} reached their expiry since the last sweep.</p>`;
  }
  text.push(`Review them in the console: ${facts.consoleUrl}`, "");
  html += `<p><a href="${escapeHtml(facts.consoleUrl)}">Review them in the console</a>.</p>`;

  return {
    to,
    subject: `Keyward: ${summary.join(", ")}`,
    text: text.join("\n"),
    html: htmlDocument("Keyward maintenance digest", html),
    links: [facts.consoleUrl],
  };
}

import type { KeyJson } from "../../shared/contract/json.js";
import type { Palette } from "./color.js";
import { renderFields, renderTable } from "./table.js";
import { relativeTime, timeWithRelative } from "./time.js";

/** Status in colour: green active, yellow inactive (unused), red revoked, magenta expired, dim disabled. */
export function statusLabel(status: string | null, c: Palette): string {
  switch (status) {
    case "active":
      return c.green(status);
    case "inactive":
      return c.yellow(status);
    case "revoked":
      return c.red(status);
    case "expired":
      return c.magenta(status);
    case "disabled":
      return c.dim(status);
    default:
      return status ?? "unknown";
  }
}

export function keysTable(keys: KeyJson[], c: Palette, now = Date.now()): string {
  return renderTable(
    ["ID", "NAME", "STATUS", "PERMISSION", "TOKEN", "LAST USED", "CREATED"],
    keys.map((k) => [
      k.id,
      k.name,
      statusLabel(k.status, c),
      k.permission,
      k.tokenHint,
      relativeTime(k.lastUsedTime, now),
      relativeTime(k.createTime, now),
    ]),
  );
}

const list = (items: string[]) => (items.length === 0 ? "-" : items.join(", "));

export function keyDetails(k: KeyJson, c: Palette, now = Date.now()): string {
  const fields: [string, string][] = [
    ["ID", k.id],
    ["Name", k.name],
    ["Status", statusLabel(k.status, c)],
    ["Permission", k.permission],
    ["Domain", k.domainId ?? "-"],
    ["Subject", k.subject ?? "-"],
    ["Scopes", list(k.scopes)],
    ["Claims", k.claims ? JSON.stringify(k.claims) : "-"],
    ["Token", k.tokenHint],
    ["Created", `${timeWithRelative(k.createTime, "-", now)}${k.createdBy ? ` by ${k.createdBy}` : ""}`],
    ["Last used", timeWithRelative(k.lastUsedTime, "never", now)],
    ["Expires", timeWithRelative(k.expireTime, "never", now)],
    ["Enabled", k.enabled ? "yes" : "no"],
    ["Requests", String(k.requestCount)],
    ["Allowed IPs", list(k.allowedCidrs)],
  ];
  if (k.description) fields.push(["Description", k.description]);
  if (k.ratelimits.length > 0) {
    fields.push(["Rate limits", k.ratelimits.map((r) => `${r.name} ${r.limit}/${r.durationSeconds}s`).join(", ")]);
  }
  if (k.remaining !== null) fields.push(["Credits left", String(k.remaining)]);
  if (k.creditsLowThreshold !== null) fields.push(["Low below", String(k.creditsLowThreshold)]);
  if (k.revokeTime) {
    fields.push([
      "Revoked",
      `${timeWithRelative(k.revokeTime, "-", now)}${k.revocationReason ? `: ${k.revocationReason}` : ""}`,
    ]);
  }
  if (k.rotatedFromId) fields.push(["Rotated from", k.rotatedFromId]);
  if (k.rotatedToId) fields.push(["Rotated to", k.rotatedToId]);
  return renderFields(fields);
}

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Export, ExportState } from "../../../gen/keyward/v1/export_pb.js";
import { type ExportEntryJson, exportJson } from "../../../shared/contract/json.js";
import { exportDownloadUrl } from "../../../shared/exports/links.js";
import type { Principal } from "../../auth.js";
import type { GatewayExports } from "../../export-queue.js";

/**
 * The signed link of a READY export, the one its mail carries: the only way
 * to reach the file of an export nobody was mailed (a key without
 * claims.email, a mail server that never answered). Admins only, since only
 * they may download; null for members, for any other state, and once the
 * export's time is up.
 */
export function exportDownloadUrlFor(
  parts: Pick<GatewayExports, "linkSecret" | "publicUrl"> | undefined,
  principal: Principal,
  record: Export,
  now: number = Date.now(),
): string | null {
  if (!parts || principal.role !== "admin" || record.state !== ExportState.READY || !record.expireTime) return null;
  const expiresAt = timestampDate(record.expireTime).getTime();
  if (now >= expiresAt) return null;
  return exportDownloadUrl(parts.publicUrl, parts.linkSecret, record.id, expiresAt);
}

/** An export as exports.get and exports.list answer it: its JSON and, for admins, its link. */
export function exportEntryJson(
  parts: Pick<GatewayExports, "linkSecret" | "publicUrl"> | undefined,
  principal: Principal,
  record: Export,
): ExportEntryJson {
  return { ...exportJson(record), downloadUrl: exportDownloadUrlFor(parts, principal, record) };
}

import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isSafeExportId } from "../../shared/exports/export-files.js";

/**
 * A record that an export's mail went out, next to its file, so a job that
 * runs again (a retry, a stalled job picked up after a Redis restart) never
 * mails twice. The receipt is claimed before sending (exclusive create) and
 * released if sending fails, so two runs at once cannot both send.
 */
export type MailKind = "ready" | "failed";

function receiptPath(dir: string, exportId: string, kind: MailKind): string {
  if (!isSafeExportId(exportId)) throw new Error("not an export id");
  return join(dir, `.${exportId}.${kind}.mailed`);
}

/** True when this caller now owns the mail; false when it was claimed before. */
export async function claimMail(dir: string, exportId: string, kind: MailKind): Promise<boolean> {
  await mkdir(dir, { recursive: true });
  try {
    await writeFile(receiptPath(dir, exportId, kind), `${new Date().toISOString()}\n`, { flag: "wx", mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/** Gives the claim back after a failed send, so the retry may send. */
export async function releaseMail(dir: string, exportId: string, kind: MailKind): Promise<void> {
  await rm(receiptPath(dir, exportId, kind), { force: true });
}

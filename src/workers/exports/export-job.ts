import { stat } from "node:fs/promises";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Job, UnrecoverableError } from "bullmq";
import { type Export, ExportMailState, ExportState } from "../../gen/keyward/v1/export_pb.js";
import { exportResourceWords } from "../../shared/contract/enums.js";
import type { KeyServiceClient } from "../../shared/contract/service-client.js";
import {
  exportFilePath,
  isSafeExportId,
  removeExportTempFiles,
  writeExportFile,
} from "../../shared/exports/export-files.js";
import { failureText } from "../../shared/exports/failure-text.js";
import { exportDownloadUrl } from "../../shared/exports/links.js";
import type { Logger } from "../../shared/logger.js";
import { ExportJobDataSchema } from "../../shared/queues/queues.js";
import { isEmail } from "../mail/address.js";
import { type ExportMailFacts, exportFailedMail, exportReadyMail } from "../mail/export-mails.js";
import type { Mailer } from "../mail/mailer.js";
import { claimMail, type MailKind, releaseMail } from "./mail-receipts.js";

export interface ExportJobDeps {
  service: KeyServiceClient;
  mailer: Mailer;
  logger: Logger;
  /** <data dir>/exports, shared with the gateway that serves the files. */
  dir: string;
  linkSecret: Buffer;
  /** Base of the links in mails, e.g. https://keyward.example.com. */
  publicUrl: string;
}

export type ExportJobResult =
  | { outcome: "ready"; rowCount: number; byteSize: number }
  | { outcome: "skipped"; reason: "expired" | "failed" | "already-ready" };

/**
 * The export job: stream the rows from the service into the CSV file, mark
 * the export READY, mail the admin a link. Safe to run again at any point:
 * the file is replaced atomically, READY is checked before working, and the
 * mail is sent once (a receipt next to the file). After the last attempt the
 * export is FAILED and the admin is told.
 */
export function createExportProcessor(deps: ExportJobDeps) {
  return async function processExport(job: Job, _token?: string, signal?: AbortSignal): Promise<ExportJobResult> {
    const parsed = ExportJobDataSchema.safeParse(job.data);
    if (!parsed.success || !isSafeExportId(parsed.data.exportId)) {
      throw new UnrecoverableError("the export job carries no valid export id");
    }
    const exportId = parsed.data.exportId;
    const attempt = job.attemptsMade + 1;
    const lastAttempt = attempt >= (job.opts.attempts ?? 1);
    const log = deps.logger.child({ exportId, attempt });
    let becameReady = false;
    try {
      const result = await runExport(deps, exportId, attempt, lastAttempt, log, signal, () => {
        becameReady = true;
      });
      return result;
    } catch (error) {
      const permanent = error instanceof UnrecoverableError || isPermanent(error);
      const final = lastAttempt || permanent;
      log.warn({ err: error, final }, final ? "export failed for good" : "export attempt failed; it will be retried");
      // A READY export whose mail failed stays READY: the file is fine and listed.
      // An expired one (FailedPrecondition) cannot be changed any more.
      if (final && !becameReady && !isExpiredError(error))
        await giveUp(deps, exportId, attempt, failureText(error), log);
      if (permanent && !(error instanceof UnrecoverableError)) throw new UnrecoverableError(failureText(error));
      throw error;
    }
  };
}

async function runExport(
  deps: ExportJobDeps,
  exportId: string,
  attempt: number,
  lastAttempt: boolean,
  log: Logger,
  signal: AbortSignal | undefined,
  markReady: () => void,
): Promise<ExportJobResult> {
  const record = await getExport(deps.service, exportId);
  switch (record.state) {
    case ExportState.EXPIRED:
      log.info("export expired before it was produced; nothing to do");
      return { outcome: "skipped", reason: "expired" };
    case ExportState.FAILED:
      // Given up on already: by the gateway (queue unavailable) or by a final attempt.
      log.info("export is FAILED; not producing it");
      return { outcome: "skipped", reason: "failed" };
    case ExportState.READY:
      if (await fileExists(exportFilePath(deps.dir, exportId))) {
        // An earlier run produced it (then crashed, or lost Redis before completing): only the mail may be missing.
        markReady();
        await removeExportTempFiles(deps.dir, exportId);
        await mailOnce(deps, "ready", record, log, lastAttempt);
        return { outcome: "skipped", reason: "already-ready" };
      }
      break;
  }
  const resource = exportResourceWords.word(record.resource);
  if (resource === null) throw new UnrecoverableError(`export ${exportId} names no known resource`);

  await deps.service.updateExport({ id: exportId, state: ExportState.PENDING, attempts: attempt });
  const leftovers = await removeExportTempFiles(deps.dir, exportId);
  if (leftovers > 0) log.info({ files: leftovers }, "removed the temporary files of an interrupted attempt");
  const started = performance.now();
  const written = await writeExportFile({ service: deps.service, exportId, resource, dir: deps.dir, signal });
  const updated = await deps.service.updateExport({
    id: exportId,
    state: ExportState.READY,
    rowCount: BigInt(written.rowCount),
    byteSize: BigInt(written.byteSize),
    attempts: attempt,
  });
  markReady();
  log.info(
    { rows: written.rowCount, bytes: written.byteSize, ms: Math.round(performance.now() - started) },
    "export ready",
  );
  await mailOnce(deps, "ready", updated.export ?? record, log, lastAttempt);
  return { outcome: "ready", rowCount: written.rowCount, byteSize: written.byteSize };
}

/** Marks the export FAILED and tells the admin; a failure here is logged, the job's own error stays the reason. */
async function giveUp(
  deps: ExportJobDeps,
  exportId: string,
  attempt: number,
  reason: string,
  log: Logger,
): Promise<void> {
  try {
    await removeExportTempFiles(deps.dir, exportId);
    const response = await deps.service.updateExport({
      id: exportId,
      state: ExportState.FAILED,
      error: reason,
      attempts: attempt,
    });
    if (response.export)
      await mailOnce(deps, "failed", response.export, log, true, { error: reason, attempts: attempt });
  } catch (secondary) {
    log.error({ err: secondary }, "could not record the export as FAILED or tell the admin");
  }
}

/**
 * Sends the export's mail once and records on the export how that went:
 * SENT, NONE (nobody to write to), or the failure (PENDING while the job will
 * retry, FAILED on its last attempt, logged as a warning). A failed send
 * throws, so that the job retries it.
 */
/** BullMQ's reason for a job that stalled more often than the worker's maxStalledCount allows. */
const STALLED_TOO_OFTEN = /stalled more than allowable limit/;

/**
 * The export worker's `failed` listener: ends the export of a job that
 * failed for good without its processor getting to say so. BullMQ fails a
 * job whose worker died under it (kill -9, out of memory) more than
 * maxStalledCount times without running the processor again, so the export
 * would stay PENDING with nobody told. Marks it FAILED, mails the admin once
 * (the receipt keeps it to one) and removes its temporary files. An export
 * the processor already settled (READY, FAILED, EXPIRED) is left alone.
 */
export function createExportFailureHandler(deps: ExportJobDeps) {
  return async function onExportJobFailed(job: Job | undefined, error: Error): Promise<void> {
    if (!job) return;
    const final =
      error instanceof UnrecoverableError ||
      error.name === "UnrecoverableError" ||
      job.attemptsMade >= (job.opts.attempts ?? 1);
    const parsed = ExportJobDataSchema.safeParse(job.data);
    if (!final || !parsed.success || !isSafeExportId(parsed.data.exportId)) return;
    const exportId = parsed.data.exportId;
    const log = deps.logger.child({ exportId });
    try {
      const record = await getExport(deps.service, exportId);
      if (record.state !== ExportState.PENDING) return;
      const attempts = Math.max(job.attemptsStarted, job.attemptsMade, 1);
      const reason = STALLED_TOO_OFTEN.test(error.message)
        ? `the export was interrupted ${job.stalledCounter} times: its worker stopped (crashed or was killed) while producing it`
        : failureText(error);
      log.warn({ reason, attempts }, "export failed for good outside its job; marking it FAILED");
      await giveUp(deps, exportId, attempts, reason, log);
    } catch (secondary) {
      log.error({ err: secondary }, "could not settle the export of a failed job");
    }
  };
}

async function mailOnce(
  deps: ExportJobDeps,
  kind: MailKind,
  record: Export,
  log: Logger,
  lastAttempt: boolean,
  failure?: { error: string; attempts: number },
): Promise<void> {
  const to = record.requestedBy;
  if (!isEmail(to)) {
    // An admin key without claims.email is named key:<id>; there is nobody to write to.
    log.warn({ requestedBy: to }, "the export was asked for by a key without claims.email; no mail sent");
    await recordMail(deps, record, ExportMailState.NONE, "", log);
    return;
  }
  if (!(await claimMail(deps.dir, record.id, kind))) {
    log.info({ kind }, "mail already sent for this export");
    return;
  }
  const facts: ExportMailFacts = {
    exportId: record.id,
    what: exportResourceWords.word(record.resource) === "key_logs" ? "key logs" : "API keys",
    requestedBy: to,
    createdAt: record.createTime ? timestampDate(record.createTime) : new Date(),
  };
  try {
    if (kind === "ready") {
      const expiresAt = record.expireTime ? timestampDate(record.expireTime) : new Date(Date.now() + 7 * 86_400_000);
      const url = exportDownloadUrl(deps.publicUrl, deps.linkSecret, record.id, expiresAt.getTime());
      await deps.mailer.send(
        exportReadyMail({
          ...facts,
          url,
          rowCount: Number(record.rowCount),
          byteSize: Number(record.byteSize),
          expiresAt,
        }),
      );
    } else {
      await deps.mailer.send(
        exportFailedMail({
          ...facts,
          error: failure?.error ?? record.error,
          attempts: failure?.attempts ?? record.attempts,
        }),
      );
    }
  } catch (error) {
    await releaseMail(deps.dir, record.id, kind);
    const reason = mailFailureText(error);
    if (lastAttempt) {
      log.warn({ kind, mailError: reason }, "gave up on the export's mail: the admin was not told");
      await recordMail(deps, record, ExportMailState.FAILED, reason, log);
    } else {
      await recordMail(deps, record, ExportMailState.PENDING, reason, log);
    }
    throw error;
  }
  log.info({ kind, mailer: deps.mailer.kind }, "export mail sent");
  await recordMail(deps, record, ExportMailState.SENT, "", log);
}

/** Records the mail's state on the export; a failure here is logged, never the job's reason. */
async function recordMail(
  deps: ExportJobDeps,
  record: Export,
  mailState: ExportMailState,
  mailError: string,
  log: Logger,
): Promise<void> {
  try {
    await deps.service.updateExport({ id: record.id, mailState, mailError });
  } catch (error) {
    log.error({ err: error, mailState: ExportMailState[mailState] }, "could not record the export's mail state");
  }
}

/** A mail failure as one line for the export record: the transport's message, never a credential. */
function mailFailureText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // An SMTP URL in a message would carry its password.
  return message.replace(/\b(smtps?:\/\/)[^@\s/]*@/gi, "$1***@").slice(0, 500);
}

async function getExport(service: KeyServiceClient, id: string): Promise<Export> {
  try {
    const response = await service.getExport({ id });
    if (!response.export) throw new Error("the key service answered GetExport without the export");
    return response.export;
  } catch (error) {
    if (error instanceof ConnectError && (error.code === Code.NotFound || error.code === Code.InvalidArgument)) {
      throw new UnrecoverableError(`export ${id} does not exist`);
    }
    throw error;
  }
}

async function fileExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The service's answers that another attempt would only repeat. */
function isPermanent(error: unknown): boolean {
  return (
    error instanceof ConnectError &&
    (error.code === Code.InvalidArgument || error.code === Code.NotFound || error.code === Code.FailedPrecondition)
  );
}

function isExpiredError(error: unknown): boolean {
  return error instanceof ConnectError && error.code === Code.FailedPrecondition;
}

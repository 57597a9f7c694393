import type { Job } from "bullmq";
import { z } from "zod";
import type { KeyServiceClient } from "../../shared/contract/service-client.js";
import { removeExportFiles, removeStaleTempFiles } from "../../shared/exports/export-files.js";
import type { Logger } from "../../shared/logger.js";
import { type DigestFacts, digestHasNews, digestMail } from "../mail/digest-mail.js";
import type { Mailer } from "../mail/mailer.js";
import { keyReminderMail } from "../mail/notice-mails.js";
import { adminEmails } from "./admin-recipients.js";
import { type SweepReport, type SweepSummary, sweepReport } from "./sweep-report.js";

export interface SweepDays {
  inactive: number;
  /** 0: never revoke for inactivity. */
  autoRevoke: number;
  logRetention: number;
  rotation: number;
}

export interface SweepJobDeps {
  service: KeyServiceClient;
  mailer: Mailer;
  logger: Logger;
  /** <data dir>/exports: expired exports' files are deleted from it. */
  dir: string;
  days: SweepDays;
  /** The console, linked from the digest. */
  consoleUrl: string;
}

/** Progress a retried run picks up again: the sweep's answer and who already has the digest. */
const SweepJobDataSchema = z
  .object({
    report: z.custom<SweepReport>((v) => typeof v === "object" && v !== null).optional(),
    mailedTo: z.array(z.string()).optional(),
    reminded: z.array(z.string()).optional(),
  })
  .passthrough();

/**
 * The maintenance sweep: one RunSweep (every step set-based in the service),
 * then the files of expired exports are deleted and the admins get a digest
 * when keys became inactive, were revoked for inactivity or are due for
 * rotation. No news, no mail.
 */
export function createSweepProcessor(deps: SweepJobDeps) {
  return async function processSweep(job: Job): Promise<SweepSummary> {
    const data = SweepJobDataSchema.safeParse(job.data ?? {});
    const progress = data.success ? data.data : {};
    let report = progress.report;
    const mailedTo = new Set(progress.mailedTo ?? []);
    const reminded = new Set(progress.reminded ?? []);
    if (!report) {
      const response = await deps.service.runSweep({
        inactiveDays: deps.days.inactive,
        autoRevokeDays: deps.days.autoRevoke,
        logRetentionDays: deps.days.logRetention,
        rotationDays: deps.days.rotation,
      });
      report = sweepReport(response);
      // Kept before anything else can fail: a retry must not lose what this pass found.
      await job.updateData({ ...progress, report, mailedTo: [], reminded: [] });
    }

    let deletedFiles = 0;
    for (const id of report.expiredExports) {
      if (await removeExportFiles(deps.dir, id)) deletedFiles++;
    }
    const deletedTempFiles = await removeStaleTempFiles(deps.dir);

    const facts: DigestFacts = {
      newlyInactive: report.newlyInactive,
      autoRevoked: report.autoRevoked,
      rotationDue: report.rotationDue,
      expiringSoon: report.expiringSoon ?? [],
      creditsLow: report.creditsLow ?? [],
      expiredKeys: report.expiredKeys,
      inactiveDays: deps.days.inactive,
      autoRevokeDays: deps.days.autoRevoke,
      rotationDays: deps.days.rotation,
      consoleUrl: deps.consoleUrl,
    };
    if (digestHasNews(facts)) {
      const recipients = await adminEmails(deps.service);
      if (recipients.length === 0)
        deps.logger.warn("the sweep has news but no admin key carries claims.email; no digest sent");
      for (const to of recipients) {
        if (mailedTo.has(to)) continue;
        await deps.mailer.send(digestMail(to, facts));
        mailedTo.add(to);
        await job.updateData({ ...progress, report, mailedTo: [...mailedTo], reminded: [...reminded] });
      }
    }
    // Each owner (claims.email) hears about their own key: once per key and notice.
    const reminders = [
      ...(report.expiringSoon ?? []).map((key) => ({ key, kind: "expiring" as const })),
      ...(report.creditsLow ?? []).map((key) => ({ key, kind: "credits_low" as const })),
    ];
    for (const { key, kind } of reminders) {
      const id = `${kind}:${key.id}`;
      if (!key.ownerEmail || reminded.has(id)) continue;
      await deps.mailer.send(
        keyReminderMail(key.ownerEmail, {
          key: {
            id: key.id,
            name: key.name,
            tokenHint: "",
            subject: key.subject || null,
            expireTime: key.expireTime || null,
            remaining: key.remaining ?? null,
          },
          kind,
          consoleUrl: deps.consoleUrl,
        }),
      );
      reminded.add(id);
      await job.updateData({ ...progress, report, mailedTo: [...mailedTo], reminded: [...reminded] });
    }

    const summary: SweepSummary = {
      sweptAt: report.sweptAt,
      newlyInactive: report.newlyInactive.map((k) => k.id),
      autoRevoked: report.autoRevoked.map((k) => k.id),
      rotationDue: report.rotationDue.map((k) => k.id),
      expiringSoon: (report.expiringSoon ?? []).map((k) => k.id),
      creditsLow: (report.creditsLow ?? []).map((k) => k.id),
      expiredKeys: report.expiredKeys,
      expiredExports: report.expiredExports,
      deletedFiles,
      deletedTempFiles,
      prunedLogs: report.prunedLogs,
      mailedTo: [...mailedTo],
      reminded: [...reminded],
    };
    deps.logger.info(
      {
        newlyInactive: summary.newlyInactive.length,
        autoRevoked: summary.autoRevoked.length,
        rotationDue: summary.rotationDue.length,
        expiredKeys: summary.expiredKeys,
        expiredExports: summary.expiredExports.length,
        deletedFiles,
        deletedTempFiles,
        prunedLogs: summary.prunedLogs,
        digests: summary.mailedTo.length,
      },
      "maintenance sweep done",
    );
    return summary;
  };
}

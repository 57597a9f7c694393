import type { Job } from "bullmq";
import { UnrecoverableError } from "bullmq";
import type { KeyServiceClient } from "../../shared/contract/service-client.js";
import type { Logger } from "../../shared/logger.js";
import { WebhookMailJobDataSchema } from "../../shared/queues/queues.js";
import { isEmail } from "../mail/address.js";
import type { Mailer, MailMessage } from "../mail/mailer.js";
import { endpointDisabledMail, leakMail, noticeKey } from "../mail/notice-mails.js";
import { adminEmails } from "../sweeps/admin-recipients.js";

export interface NoticeMailDeps {
  service: KeyServiceClient;
  mailer: Mailer;
  logger: Logger;
  consoleUrl: string;
}

/**
 * Mails an outbox event calls for: a leaked key (to the admins and the key's
 * claims.email) and an endpoint disabled after failing (to the admins). Who
 * already has it is kept in the job's data, so a retry after a failed send
 * mails only the others.
 */
export function createNoticeMailProcessor(deps: NoticeMailDeps) {
  return async function processNoticeMail(job: Job): Promise<{ mailedTo: string[] }> {
    const parsed = WebhookMailJobDataSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError("the mail job carries no valid event");
    const { type, dataJson } = parsed.data;
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(dataJson) as Record<string, unknown>;
    } catch {
      throw new UnrecoverableError("the mail job's event data is not JSON");
    }
    const admins = await adminEmails(deps.service);
    const mails = new Map<string, MailMessage>();
    if (type === "key.leaked") {
      const key = noticeKey(data.key);
      const leak = (data.leak ?? {}) as Record<string, unknown>;
      const facts = {
        key,
        url: String(leak.url ?? ""),
        source: String(leak.source ?? ""),
        action: String(leak.action ?? "revoke"),
        consoleUrl: deps.consoleUrl,
      };
      const owner = ((data.key as { claims?: { email?: unknown } } | undefined)?.claims?.email ?? "") as unknown;
      const recipients = [...admins];
      if (typeof owner === "string" && isEmail(owner.trim())) recipients.push(owner.trim());
      for (const to of recipients) mails.set(to.toLowerCase(), leakMail(to, facts));
    } else if (type === "webhook_endpoint.disabled") {
      const endpoint = (data.endpoint ?? {}) as Record<string, unknown>;
      const facts = {
        id: String(endpoint.id ?? ""),
        url: String(endpoint.url ?? ""),
        reason: String(endpoint.disabledReason ?? "it kept failing"),
        failingSince: typeof endpoint.failingSince === "string" ? endpoint.failingSince : null,
        consoleUrl: deps.consoleUrl,
      };
      for (const to of admins) mails.set(to.toLowerCase(), endpointDisabledMail(to, facts));
    } else {
      deps.logger.warn({ type }, "no mail for this event type");
      return { mailedTo: [] };
    }
    if (mails.size === 0) deps.logger.warn({ type }, "nobody to mail: no admin key carries claims.email");
    const mailedTo = new Set(parsed.data.mailedTo ?? []);
    for (const [address, message] of mails) {
      if (mailedTo.has(address)) continue;
      await deps.mailer.send(message);
      mailedTo.add(address);
      await job.updateData({ ...parsed.data, mailedTo: [...mailedTo] });
    }
    deps.logger.info({ type, eventId: parsed.data.eventId, recipients: mailedTo.size }, "notice mailed");
    return { mailedTo: [...mailedTo] };
  };
}

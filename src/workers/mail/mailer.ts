import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import nodemailer, { type Transporter } from "nodemailer";
import type { Logger } from "../../shared/logger.js";

/** One mail with a plain-text and an HTML part. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Links in the mail, logged when it goes to the outbox so an operator without SMTP can follow them. */
  links?: string[];
}

export interface Mailer {
  /** "smtp" sends; "outbox" writes .eml files. */
  readonly kind: "smtp" | "outbox" | "custom";
  send(message: MailMessage): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  /** SMTP_URL; when unset, mails become .eml files in outboxDir. */
  smtpUrl?: string;
  /** KEYWARD_MAIL_FROM. */
  from: string;
  /** <data dir>/outbox. */
  outboxDir: string;
  logger: Logger;
  /** A ready nodemailer transport (tests, other providers); wins over smtpUrl. */
  transport?: Transporter;
}

/**
 * Mail through nodemailer: to SMTP_URL when set, otherwise into the outbox
 * directory as .eml files (with the links logged), so that a fresh install
 * works without a mail server.
 */
export function createMailer(options: MailerOptions): Mailer {
  const { logger, from } = options;
  if (options.transport) return transportMailer("custom", options.transport, from);
  if (options.smtpUrl) {
    const transport = nodemailer.createTransport({
      url: options.smtpUrl,
      // A dead mail server fails the job (which retries) instead of hanging it.
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
    return transportMailer("smtp", transport, from);
  }

  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "windows" });
  return {
    kind: "outbox",
    async send(message) {
      const info = await composer.sendMail({
        from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
      });
      await mkdir(options.outboxDir, { recursive: true });
      const file = join(options.outboxDir, `${Date.now()}-${randomBytes(4).toString("hex")}.eml`);
      await writeFile(file, info.message as Buffer, { mode: 0o600 });
      logger.info(
        { to: message.to, subject: message.subject, file, links: message.links ?? [] },
        "no SMTP_URL: mail written to the outbox",
      );
    },
    close: () => composer.close(),
  };
}

function transportMailer(kind: "smtp" | "custom", transport: Transporter, from: string): Mailer {
  return {
    kind,
    async send(message) {
      await transport.sendMail({
        from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
      });
    },
    close: () => transport.close(),
  };
}

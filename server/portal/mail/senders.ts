import type { FastifyBaseLogger } from 'fastify';

/** One message as the portal sends it. */
export interface Mail {
  to: string;
  subject: string;
  text: string;
}

/** Where portal mail goes: pluggable, so the outbox does not care whether it is SMTP or a log line. */
export interface MailSender {
  send(mail: Mail): Promise<void>;
  close?(): void;
}

/** Reset tokens (`ptc_rst_…`) in a text, cut to their first characters: enough to tell mails apart, not to use. */
export const redactTokens = (text: string) => text.replace(/(ptc_rst_[A-Za-z0-9_-]{4})[A-Za-z0-9_-]+/g, '$1…');

/**
 * The default sender, for development: one log line per mail (recipient, subject, the text with every reset token
 * cut short), so no usable token ever reaches a log. To receive resets, point PORTICO_SMTP_URL at a relay or a local
 * mail catcher.
 */
export class LogMailSender implements MailSender {
  constructor(private readonly log: FastifyBaseLogger) {}

  async send(mail: Mail): Promise<void> {
    this.log.info(
      { mailTo: mail.to, subject: mail.subject, text: redactTokens(mail.text) },
      'portal mail (log sender: set PORTICO_SMTP_URL to deliver it)',
    );
  }
}

interface Transport {
  sendMail(message: { from: string; to: string; subject: string; text: string }): Promise<unknown>;
  close(): void;
}

/**
 * SMTP through nodemailer (`smtp://user:pass@host:587` upgrades with STARTTLS when offered; `smtps://` is TLS from
 * the start). The module is loaded when a gateway is configured for SMTP, so a gateway without it needs none.
 */
export class SmtpMailSender implements MailSender {
  private constructor(
    private readonly transport: Transport,
    private readonly from: string,
  ) {}

  static async open(url: string, from: string): Promise<SmtpMailSender> {
    const moduleName = 'nodemailer';
    const nodemailer = (await import(moduleName)) as { createTransport(url: string): Transport };
    return new SmtpMailSender(nodemailer.createTransport(url), from);
  }

  async send(mail: Mail): Promise<void> {
    await this.transport.sendMail({ from: this.from, to: mail.to, subject: mail.subject, text: mail.text });
  }

  close(): void {
    this.transport.close();
  }
}

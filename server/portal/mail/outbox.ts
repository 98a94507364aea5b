import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { decryptSecret, encryptSecret } from '../../lib/secrets';
import { claimDueMail, markMailFailed, markMailSent, queueMail } from '../../store/portal-mail';
import type { Db, Executor } from '../../store/schema';
import type { Mail, MailSender } from './senders';

/** Queues a mail in `db` (the caller's transaction), its text sealed under the master key. Returns its id. */
export async function queuePortalMail(db: Executor, masterKey: Buffer, mail: Mail): Promise<string> {
  const id = `mail_${randomUUID()}`;
  await queueMail(db, {
    id,
    recipient: mail.to,
    subject: mail.subject,
    body_sealed: encryptSecret(masterKey, mail.text),
  });
  return id;
}

export interface MailDispatcherOptions {
  pollMs?: number;
  maxAttempts?: number;
  backoffMs?: number;
}

/**
 * Sends the portal's queued mail: polls for due messages (and is woken when one is queued), sends each through the
 * sender, and retries a failure with exponential backoff up to `maxAttempts`. Instances share the queue safely
 * (claimDueMail leases what it takes).
 */
export class MailDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly pollMs: number;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;

  constructor(
    private readonly db: Db,
    private readonly masterKey: Buffer,
    private readonly sender: MailSender,
    private readonly log: FastifyBaseLogger,
    options: MailDispatcherOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 2000;
    this.maxAttempts = options.maxAttempts ?? 6;
    this.backoffMs = options.backoffMs ?? 5000;
  }

  start(): void {
    this.timer = setInterval(() => this.wake(), this.pollMs).unref();
  }

  /** Runs a pass now (or right after the one running). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((err) => this.log.warn({ err }, 'portal mail dispatch'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Waits for the pass in flight (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.idle();
    this.sender.close?.();
  }

  private async pass(): Promise<void> {
    for (;;) {
      const due = await claimDueMail(this.db, 10, 60_000);
      if (!due.length) return;
      for (const mail of due) await this.deliver(mail);
    }
  }

  private async deliver(mail: Awaited<ReturnType<typeof claimDueMail>>[number]): Promise<void> {
    const attempts = mail.attempts + 1;
    try {
      const text = decryptSecret(this.masterKey, mail.body_sealed);
      await this.sender.send({ to: mail.recipient, subject: mail.subject, text });
      await markMailSent(this.db, mail.id, attempts);
    } catch (err) {
      const error = (err as Error).message.slice(0, 500);
      const next = attempts >= this.maxAttempts ? null : new Date(Date.now() + this.backoffMs * 2 ** (attempts - 1));
      this.log.warn({ mailId: mail.id, attempts, error }, 'portal mail not sent');
      await markMailFailed(this.db, mail.id, attempts, error, next);
    }
  }
}

import { createHmac, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { request } from 'undici';
import { decryptSecret } from '../lib/secrets';
import { egressOf, NO_ALLOWANCE, neutralFailure, type Egress, type EgressAllow } from '../net/egress';
import type { Db } from '../store/schema';
import { claimDueDeliveries, recordAttempt, webhookKey, type ClaimedDelivery } from '../store/webhook-deliveries';
import { webhookTarget } from '../store/webhook-resources';

export interface DispatcherOptions {
  /** Attempts before a delivery is given up as FAILED (at least 3). */
  maxAttempts?: number;
  /** Backoff base: attempt n waits base·2^(n-1) plus up to base of jitter. */
  backoffMs?: number;
  /** How often due deliveries are looked for, besides being woken on a new one. */
  pollMs?: number;
  timeoutMs?: number;
  /** Deliveries in flight at once on this instance (each to a different webhook). */
  maxInFlight?: number;
  /** What tenants' webhook URLs may reach besides public addresses (`PORTICO_EGRESS_ALLOW`). */
  egressAllow?: EgressAllow;
}

export interface SendResult {
  delivered: boolean;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
}

/** `sha256=<hex HMAC-SHA256(secret, body)>`. */
export const signature = (secret: string, body: string) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/**
 * POSTs one signed body through `egress` (redirects are not followed); never throws. A restricted target's failure
 * is recorded without its address, since the tenant reads the attempt log.
 */
export async function sendSigned(
  url: string,
  secret: string,
  body: string,
  type: string,
  deliveryId: string,
  timeoutMs: number,
  egress: Egress,
): Promise<SendResult> {
  const started = Date.now();
  try {
    const res = await request(url, {
      dispatcher: egress.dispatcher,
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'x-gateway-signature': signature(secret, body),
        'x-gateway-event': type,
        'x-gateway-delivery': deliveryId,
        'user-agent': 'portico-webhooks',
      },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body.dump().catch(() => undefined);
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    const error = ok ? null : `HTTP ${res.statusCode}`;
    return { delivered: ok, status_code: res.statusCode, duration_ms: Date.now() - started, error };
  } catch (err) {
    const e = err as Error & { cause?: Error };
    let error: string;
    if (e.name === 'TimeoutError') error = `timed out after ${timeoutMs} ms`;
    else error = egress.restricted ? neutralFailure(err) : (e.cause?.message ?? e.message);
    return { delivered: false, status_code: null, duration_ms: Date.now() - started, error };
  }
}

/**
 * Sends queued deliveries: claims due rows (FOR UPDATE SKIP LOCKED, so several instances share the work), posts them
 * signed, records every attempt, and reschedules failures with exponential backoff and jitter.
 *
 * Each webhook has at most one delivery in flight here, and deliveries do not wait for each other: an endpoint that
 * never answers holds only its own queue (until its timeout), never another webhook's.
 */
export class WebhookDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly opts: Required<DispatcherOptions>;
  /** Webhooks with a delivery in flight here: not claimed again until it ends, so their order is kept. */
  private readonly busy = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly masterKey: Buffer,
    private readonly log: FastifyBaseLogger,
    options: DispatcherOptions = {},
  ) {
    this.opts = {
      maxAttempts: 5,
      backoffMs: 1000,
      pollMs: 1000,
      timeoutMs: 10_000,
      maxInFlight: 32,
      egressAllow: NO_ALLOWANCE,
      ...options,
    };
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await Promise.all(this.inFlight);
  }

  /** Looks for due deliveries soon (after the queuing transaction has committed). */
  wake(): void {
    if (this.running) this.again = true;
    else this.schedule(20);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick()
        .catch((err) => this.log.warn({ err }, 'webhook dispatch failed'))
        .finally(() => {
          this.running = undefined;
          const more = this.again;
          this.again = false;
          this.schedule(more ? 0 : this.opts.pollMs);
        });
    }, ms);
  }

  /** Claims what is due for webhooks not busy here and starts each delivery without waiting for it. */
  private async tick(): Promise<void> {
    while (!this.stopped) {
      const room = this.opts.maxInFlight - this.inFlight.size;
      if (room <= 0) return;
      const batch = await this.claim(room);
      if (!batch.length) return;
      for (const d of batch) this.launch(d);
    }
  }

  private launch(d: ClaimedDelivery): void {
    this.busy.add(webhookKey(d));
    const done: Promise<void> = this.deliver(d)
      .catch((err) => this.log.warn({ err, delivery: d.id }, 'webhook delivery not recorded'))
      .finally(() => {
        this.busy.delete(webhookKey(d));
        this.inFlight.delete(done);
        this.wake(); // its webhook's next delivery may be due
      });
    this.inFlight.add(done);
  }

  /** Claims up to n due deliveries of webhooks not busy here, leased for the timeout (and a margin). */
  private claim(n: number): Promise<ClaimedDelivery[]> {
    return claimDueDeliveries(this.db, n, this.busy, this.opts.timeoutMs + 5000);
  }

  private async deliver(d: ClaimedDelivery): Promise<void> {
    const hook = await webhookTarget(this.db, d);
    const attempt = d.attempts + 1;
    let result: SendResult;
    if (!hook || hook.data.active !== true || !hook.secret) {
      result = {
        delivered: false,
        status_code: null,
        duration_ms: 0,
        error: hook ? 'webhook is inactive' : 'webhook was deleted',
      };
    } else {
      const egress = egressOf(this.opts.egressAllow, hook);
      const secret = decryptSecret(this.masterKey, hook.secret);
      result = await sendSigned(String(hook.data.url), secret, d.body, d.event_type, d.id, this.opts.timeoutMs, egress);
    }
    const final = result.delivered || !hook || hook.data.active !== true || attempt >= this.opts.maxAttempts;
    const wait = this.opts.backoffMs * 2 ** (attempt - 1) + Math.random() * this.opts.backoffMs;
    const { status_code, error, duration_ms } = result;
    await recordAttempt(
      this.db,
      { delivery_id: d.id, attempt, status_code, error, duration_ms },
      {
        status: result.delivered ? 'DELIVERED' : final ? 'FAILED' : 'PENDING',
        next_attempt_at: new Date(Date.now() + (final ? 0 : wait)),
      },
    );
  }
}

export const newDeliveryId = () => `dlv_${randomUUID()}`;

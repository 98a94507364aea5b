import { request } from 'undici';
import type { Gateway } from '../gateway';
import { egressOf, neutralFailure } from '../net/egress';
import type { ServiceState } from '../resources';
import { recordWriter, type BatchWriter } from './batch-writer';

const checkKey = (s: ServiceState) => `${s.tenant_id ?? '*'}/${s.id}`;

/** A check gets at most this long, whatever the service's own timeout. */
const MAX_CHECK_MS = 10_000;

/**
 * Checks every service that has a `health_check_path`, each on its own interval, and records a health snapshot per
 * check (UP on a 2xx or 3xx answer). Runs on data-plane nodes; each node checks, so with several nodes the history
 * holds each node's view.
 */
export class HealthChecker {
  /** By `checkKey`: a service's owner and id (two tenants may each have a service "billing"). */
  private readonly due = new Map<string, number>();
  private readonly running = new Set<string>();
  /** Services whose last check failed, so the operator's log gets a line when one goes down, not every check. */
  private readonly down = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  readonly snapshots: BatchWriter<'health_snapshots'>;

  constructor(
    private readonly gw: Gateway,
    private readonly tickMs = 250,
  ) {
    this.snapshots = recordWriter(gw, 'health_snapshots', 'hs_', 100);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.tickMs).unref();
  }

  /** Stops checking; records unwritten by `deadline` go to the spool. */
  async stop(deadline = Date.now() + this.gw.config.shutdownGraceMs): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.snapshots.stop(deadline);
  }

  private tick(now = Date.now()): void {
    for (const s of this.gw.snapshot.all('service')) {
      if (s.health_check_path === null || s.deleted_at !== null) continue; // nothing checks a deleted service
      const key = checkKey(s);
      if (this.running.has(key) || (this.due.get(key) ?? 0) > now) continue;
      this.due.set(key, now + s.health_check_interval_secs * 1000);
      this.running.add(key);
      void this.check(s).finally(() => this.running.delete(key));
    }
  }

  /** One check of one service, recorded as a snapshot. */
  async check(s: ServiceState): Promise<void> {
    const started = performance.now();
    const key = checkKey(s);
    const url = `${s.target_url.replace(/\/+$/, '')}${s.health_check_path ?? '/'}`;
    let status_code: number | null = null;
    let error: string | null = null;
    // a tenant's service may only reach public addresses
    const egress = egressOf(this.gw.config.egressAllow, s);
    try {
      const signal = AbortSignal.timeout(Math.min(s.timeout_ms, MAX_CHECK_MS));
      const res = await request(url, {
        dispatcher: egress.dispatcher,
        method: 'GET',
        signal,
        headers: { 'user-agent': 'portico-health-check' },
      });
      status_code = res.statusCode;
      await res.body.dump();
      if (status_code >= 400) error = `answered ${status_code}`;
    } catch (err) {
      // tenants read the snapshots of their services and of global ones: the text names no address or port
      error = neutralFailure(err);
      if (!this.down.has(key))
        this.gw.log.warn({ err, service: s.id, tenant: s.tenant_id }, 'health check could not reach the service');
    }
    if (error) this.down.add(key);
    else this.down.delete(key);
    const latency_ms = performance.now() - started;
    this.snapshots.add({
      tenant_id: s.tenant_id,
      service_id: s.id,
      status: error ? 'DOWN' : 'UP',
      status_code,
      latency_ms,
      error,
      checked_at: new Date().toISOString(),
    });
  }
}

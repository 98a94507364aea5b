import { request } from 'undici';
import type { Gateway } from '../gateway';
import { egressOf, neutralFailure } from '../net/egress';
import type { SnapshotEntry } from '../store/snapshot';
import { recordWriter, type BatchWriter } from './batch-writer';

/** A check gets at most this long, whatever the service's own timeout. */
const MAX_CHECK_MS = 10_000;

/**
 * Checks every service that has a `health_check_path`, each on its own interval, and records a health snapshot per
 * check (UP on a 2xx or 3xx answer). Runs on data-plane nodes; each node checks, so with several nodes the history
 * holds each node's view.
 */
export class HealthChecker {
  private readonly due = new Map<string, number>();
  private readonly running = new Set<string>();
  /** Services whose last check failed, so the operator's log gets a line when one goes down, not every check. */
  private readonly down = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  readonly snapshots: BatchWriter<'health_snapshots'>;

  constructor(private readonly gw: Gateway, private readonly tickMs = 250) {
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
      if (typeof s.health_check_path !== 'string' || this.running.has(s.id)) continue;
      const due = this.due.get(s.id) ?? 0;
      if (due > now) continue;
      this.due.set(s.id, now + Number(s.health_check_interval_secs) * 1000);
      this.running.add(s.id);
      void this.check(s).finally(() => this.running.delete(s.id));
    }
  }

  /** One check of one service, recorded as a snapshot. */
  async check(s: SnapshotEntry): Promise<void> {
    const started = performance.now();
    const url = `${String(s.target_url).replace(/\/+$/, '')}${s.health_check_path}`;
    let status_code: number | null = null;
    let error: string | null = null;
    // a tenant's service may only reach public addresses
    const egress = egressOf(this.gw.config.egressAllow, s);
    try {
      const signal = AbortSignal.timeout(Math.min(Number(s.timeout_ms), MAX_CHECK_MS));
      const res = await request(url, { dispatcher: egress.dispatcher, method: 'GET', signal, headers: { 'user-agent': 'portico-health-check' } });
      status_code = res.statusCode;
      await res.body.dump();
      if (status_code >= 400) error = `answered ${status_code}`;
    } catch (err) {
      // tenants read the snapshots of their services and of global ones: the text names no address or port
      error = neutralFailure(err);
      if (!this.down.has(s.id)) this.gw.log.warn({ err, service: s.id }, 'health check could not reach the service');
    }
    if (error) this.down.add(s.id);
    else this.down.delete(s.id);
    const latency_ms = performance.now() - started;
    this.snapshots.add({ tenant_id: s.tenant_id, service_id: s.id, status: error ? 'DOWN' : 'UP', status_code, latency_ms, error, checked_at: new Date().toISOString() });
  }
}

import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors';
import { shadowStatsOf } from '../policies/shadow-stats';
import { isoAt } from '../lib/iso-date';
import { levelEnabled } from '../lib/lazy-logger';
import type { Gateway } from '../gateway';
import { pruneQuotaUsage, quotaUsage } from '../store/quota-usage';
import type { PriorityAdmission } from '../priority/admission';
import { dataPlanePriority } from '../priority/instance';
import type { RouteState, TenantState } from '../resources';
import type { SnapshotApiKey } from '../store/snapshot-keys';
import { recordWriter, type BatchTable, type BatchWriter } from './batch-writer';
import { BudgetTracker } from './budget-tracker';
import { CircuitBreakers } from './circuit-breaker';
import { authenticateKey, type KeyCaller } from './key-auth';
import { KeyUsage } from './key-usage';
import { CLIENT_CERT } from './mtls';
import { checkCertBinding } from './mtls-binding';
import {
  DAY,
  MONTH,
  quotaCounters,
  RateLimiter,
  routeLimits,
  tierLimits,
  type LimitContext,
  type LimitDecision,
} from './limiter';
import { limitCounts, sharedPriority } from './limit-counts';
import { followHttpRoutes } from './route-match-http';
import { DataPlaneMetrics, Gauge } from './metrics';
import { TRAFFIC } from './traffic';

/** How long a request waits for a shared counter held on its last batch before it is refused (a few round trips). */
const HELD_WAIT_MS = 50;

export { TRAFFIC, Traffic, type Stoppable } from './traffic';

const CIRCUIT_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

const running = new WeakMap<Gateway, DataPlane>();

/** The data plane serving this gateway's traffic in this process (its breakers and limits), for the node admin API. */
export const dataPlaneOf = (gw: Gateway): DataPlane | undefined => running.get(gw);

const kept = new WeakMap<Gateway, RateLimiter>();

/**
 * The counts the node admin API reads and resets (`/admin/quotas`): this process's data plane's, or, in the primary
 * of PORTICO_WORKERS, the counts it keeps for its workers (server/cluster/primary.ts).
 */
export const limiterOf = (gw: Gateway): RateLimiter | undefined => running.get(gw)?.limiter ?? kept.get(gw);
export const keepCountsFor = (gw: Gateway, limiter: RateLimiter): void => void kept.set(gw, limiter);

/**
 * The data plane's shared machinery: enforcement state (limits, budgets, breakers) held in memory, and the batch
 * writers for usage, request logs and error events. One per data-plane app.
 */
export class DataPlane {
  readonly usage: BatchWriter<'usage_records'>;
  readonly requestLogs: BatchWriter<'request_logs'>;
  readonly errorEvents: BatchWriter<'error_events'>;
  readonly budgets: BudgetTracker;
  readonly limiter: RateLimiter;
  readonly breakers: CircuitBreakers;
  readonly metrics = new DataPlaneMetrics();
  readonly keyUsage: KeyUsage;
  readonly priority: PriorityAdmission;
  private readonly unfollowRoutes: () => void;
  private readonly unsharePriority: () => void;

  constructor(readonly gw: Gateway) {
    this.usage = recordWriter(gw, 'usage_records', 'use_');
    this.requestLogs = recordWriter(gw, 'request_logs', 'log_');
    this.errorEvents = recordWriter(gw, 'error_events', 'err_');
    this.writers = [this.usage, this.requestLogs, this.errorEvents];
    this.budgets = new BudgetTracker(gw.db, gw.snapshot);
    const tiers = tierLimits((id) => gw.snapshot.get('rate_limit_tier', id, null));
    this.limiter = new RateLimiter([routeLimits, tiers], limitCounts(gw, this.metrics));
    this.breakers = new CircuitBreakers((upstream, state) =>
      gw.log.warn({ upstream, state }, 'circuit breaker changed state'),
    );
    this.keyUsage = new KeyUsage(gw.db, gw.log);
    this.priority = dataPlanePriority(gw, this.metrics);
    this.unsharePriority = sharedPriority(gw, this.limiter.store, this.priority);
    this.unfollowRoutes = followHttpRoutes(gw.snapshot);
    running.set(gw, this);
    // a circuit is a route's (`owner/route`, and `#index:provider` on an LLM route), not an upstream URL's
    const circuitHelp = 'Circuit breaker per route (and LLM provider): 0 closed, 1 half-open, 2 open.';
    this.metrics.addGauge(
      new Gauge('portico_circuit_state', circuitHelp, ['circuit'], () =>
        this.breakers.entries().map(([c, s]) => [[c], CIRCUIT_VALUE[s]]),
      ),
    );
    const droppedHelp = 'Records dropped by table: refused by the database, or beyond the memory buffer and the spool.';
    const dropped = () => this.droppedRecords().map(([table, n]): [string[], number] => [[table], n]);
    this.metrics.addGauge(new Gauge('portico_records_dropped_total', droppedHelp, ['table'], dropped, 'counter'));
  }

  async start(): Promise<void> {
    // request logs a previous run spooled count towards quotas: write them before counting (one try; an
    // unavailable database leaves them spooled)
    await this.requestLogs.flush();
    // with Redis, quotas live there: nothing to count back
    const quotas = this.gw.config.redis ? this.limiter.store.start() : this.seedQuotas();
    await Promise.all([this.budgets.start(), quotas]);
  }

  /**
   * Quotas survive a restart: each key's admitted requests this UTC day and month are read back from the counts the
   * database keeps with the request logs (store/quota-usage.ts), a few rows per key however long the history. Requests
   * still in an unflushed batch (or the spool) of another instance are not counted, nor requests before an operator's
   * quota reset of the key.
   */
  private async seedQuotas(now = new Date()): Promise<void> {
    const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const [rows] = await Promise.all([quotaUsage(this.gw.db, month, day), pruneQuotaUsage(this.gw.db, month)]);
    for (const r of rows) {
      const counters = quotaCounters(r.tenant_id, r.api_key_id);
      if (r.day) this.limiter.seed(counters.day, r.day, DAY);
      if (r.month) this.limiter.seed(counters.month, r.month, MONTH);
    }
  }

  /** When a stop must be done by (epoch ms), set by the server's close; otherwise the grace from the stop on. */
  stopBy: number | undefined;

  /** Stops; records unwritten by `deadline` go to the spool rather than hold the stop. */
  async stop(deadline = this.stopBy ?? Date.now() + this.gw.config.shutdownGraceMs): Promise<void> {
    this.budgets.stop();
    this.unfollowRoutes();
    this.unsharePriority();
    await Promise.all([
      this.usage.stop(deadline),
      this.requestLogs.stop(deadline),
      this.errorEvents.stop(deadline),
      this.keyUsage.stop(),
      this.limiter.stop(),
      shadowStatsOf(this.gw).stop(), // what SHADOW policies counted, added to the cluster's totals
    ]);
  }

  /** Every record writer of this data plane (others, such as the health checker's, add theirs), for metrics. */
  readonly writers: Pick<BatchWriter<BatchTable>, 'table' | 'dropped'>[];

  /** Records dropped so far per table (refused by the database, or beyond the buffer and spool), for metrics. */
  droppedRecords(): [table: string, count: number][] {
    return this.writers.map((w) => [w.table, w.dropped.refused + w.dropped.overflow]);
  }

  /**
   * The caller's key and tenant (401/403 otherwise, also when the key is bound to a client certificate the request
   * did not present), noted on the request and as the key's last use.
   */
  authenticate(request: FastifyRequest): KeyCaller {
    const caller = authenticateKey(this.gw.snapshot, request);
    checkCertBinding(caller.key, request[CLIENT_CERT]);
    const traffic = request[TRAFFIC];
    if (traffic) {
      traffic.tenantId = caller.tenant.id;
      traffic.keyId = caller.key.id;
    }
    this.keyUsage.used(caller.tenant.id, caller.key.id);
    return caller;
  }

  /**
   * Rate limits and quotas, then HARD budgets (LLM calls spend money; HTTP calls do not), before any upstream call.
   * A promise only when a shared counter is held (its last batch not yet confirmed): the request then waits for the
   * store's answer, a round trip, rather than being refused while its limit has room.
   */
  admit(
    request: FastifyRequest,
    reply: FastifyReply,
    tenant: TenantState | null,
    key: SnapshotApiKey | null,
    route: RouteState,
    budgets: boolean,
  ): void | Promise<void> {
    const traffic = request[TRAFFIC];
    if (traffic) traffic.routeId = route.id;
    const ctx = { tenant, key, route, clientIp: request.ip };
    const decision = this.limiter.take(ctx);
    if (decision.held) return this.admitWhenConfirmed(request, reply, ctx, budgets);
    this.admitted(request, reply, ctx, decision, budgets);
  }

  /** Asks again after each answer of the shared store, for at most HELD_WAIT_MS; still held then, it is refused. */
  private async admitWhenConfirmed(
    request: FastifyRequest,
    reply: FastifyReply,
    ctx: LimitContext,
    budgets: boolean,
  ): Promise<void> {
    const until = Date.now() + HELD_WAIT_MS;
    let decision: LimitDecision;
    do {
      await this.limiter.confirmed();
      decision = this.limiter.take(ctx);
    } while (decision.held && Date.now() < until);
    this.admitted(request, reply, ctx, decision, budgets);
  }

  private admitted(
    request: FastifyRequest,
    reply: FastifyReply,
    { tenant, key }: LimitContext,
    decision: LimitDecision,
    budgets: boolean,
  ): void {
    if (decision.denied) {
      const rule = decision.denied;
      this.metrics.throttled.inc([tenant?.id ?? '', rule.reason]);
      const period = rule.window.type === 'calendar' ? (rule.window.unit === 'day' ? 'daily' : 'monthly') : '';
      const error =
        rule.reason === 'quota'
          ? new ApiError('QUOTA_EXCEEDED', `The ${period} request quota of ${rule.source} (${rule.limit}) is used up`)
          : new ApiError(
              'RATE_LIMITED',
              `Rate limit of ${rule.source} reached: ${rule.limit} requests per window; retry in ${decision.headers['retry-after']} s`,
            );
      throw error.withHeaders(decision.headers);
    }
    reply.headers(decision.headers);
    this.priority.admit(request, tenant, key); // given back in finished()
    if (!budgets || !key || !tenant) return;
    for (const b of this.budgets.budgetsFor(tenant.id, key.id)) {
      if (b.enforcement === 'HARD' && this.budgets.spentOn(b) >= b.limit_usd) {
        this.metrics.throttled.inc([tenant.id, 'budget']);
        throw new ApiError(
          'BUDGET_EXCEEDED',
          `Budget "${b.id}" (${b.limit_usd} USD per ${b.period.toLowerCase()} period) is exhausted`,
        );
      }
    }
  }

  /** A request has ended (answered, failed or abandoned): its metrics, request log and any error event. */
  finished(request: FastifyRequest, status: number): void {
    this.priority.release(request);
    const t = request[TRAFFIC];
    if (!t) return;
    const seconds = Number(process.hrtime.bigint() - t.started) / 1e9;
    this.metrics.requests.inc([t.kind, t.tenantId ?? '', status]);
    this.metrics.latency.observe([t.kind], seconds);
    const now = isoAt(Date.now());
    const q = request.url.indexOf('?');
    const path = q < 0 ? request.url : request.url.slice(0, q);
    // every request is a request-log row; the log stream gets a line for each failed one at info and for each
    // successful one at debug (a full access log is PORTICO_LOG_LEVEL=debug), from the parent logger, with reqId
    const level = status >= 400 ? 'info' : 'debug';
    if (levelEnabled(this.gw.log, level))
      this.gw.log[level](
        {
          reqId: request.id,
          status,
          ms: Math.round(seconds * 1e4) / 10,
          tenant: t.tenantId,
          route: t.routeId,
          code: t.error?.code,
        },
        'request completed',
      );
    this.requestLogs.add({
      tenant_id: t.tenantId ?? null,
      api_key_id: t.keyId ?? null,
      route_id: t.routeId ?? null,
      kind: t.kind,
      method: request.method,
      path,
      status,
      latency_ms: seconds * 1000,
      request_id: request.id,
      error_code: t.error?.code ?? null,
      schema_validation: t.schemaValidation ?? null,
      client_ip: request.ip,
      created_at: now,
    });
    if (status >= 500) {
      // our own failures carry their error; an upstream's 5xx passed through as it was is recorded as such
      const code = t.error?.code ?? 'UPSTREAM_ERROR';
      const message =
        t.error?.message ??
        (t.upstream ? `The upstream ${t.upstream} answered ${status}` : `The upstream answered ${status}`);
      this.errorEvents.add({
        tenant_id: t.tenantId ?? null,
        route_id: t.routeId ?? null,
        request_id: request.id,
        status,
        code,
        message,
        upstream: t.upstream ?? null,
        created_at: now,
      });
    }
  }
}

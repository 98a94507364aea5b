import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import type { Db } from '../store/schema';

/**
 * Keys' `last_used_at`, kept in memory on the hot path and written once per `intervalMs` for every key used since,
 * in one statement. It is usage, not configuration: no audit event, no version, no change notification.
 */
export class KeyUsage {
  private pending = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    private readonly log: FastifyBaseLogger,
    intervalMs = 1000,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs).unref();
  }

  used(keyId: string, at = Date.now()): void {
    this.pending.set(keyId, at);
  }

  async flush(): Promise<void> {
    if (!this.pending.size) return;
    const batch = this.pending;
    this.pending = new Map();
    const ids = [...batch.keys()];
    const times = ids.map((id) => new Date(batch.get(id)!).toISOString());
    try {
      await sql`update resources r set data = jsonb_set(r.data, '{last_used_at}', to_jsonb(u.t))
        from unnest(${ids}::text[], ${times}::text[]) as u(id, t)
        where r.kind = 'api_key' and r.id = u.id`.execute(this.db);
    } catch (err) {
      this.log.warn({ err, keys: ids.length }, 'last_used_at not written');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

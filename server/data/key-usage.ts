import type { FastifyBaseLogger } from 'fastify';
import { writeKeysLastUsed, type KeyUse } from '../store/key-last-used';
import type { Db } from '../store/schema';

/**
 * Keys' `last_used_at`, kept in memory on the hot path and written once per `intervalMs` for every key used since,
 * in one statement. It is usage, not configuration: no audit event, no version, no change notification.
 */
export class KeyUsage {
  /** Latest use per key, by `tenant/id` (key ids are unique per tenant). */
  private pending = new Map<string, KeyUse>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    private readonly log: FastifyBaseLogger,
    intervalMs = 1000,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs).unref();
  }

  used(tenantId: string, keyId: string, at = new Date()): void {
    this.pending.set(`${tenantId}/${keyId}`, { tenant_id: tenantId, id: keyId, at });
  }

  async flush(): Promise<void> {
    if (!this.pending.size) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await writeKeysLastUsed(this.db, [...batch.values()]);
    } catch (err) {
      this.log.warn({ err, keys: batch.size }, 'last_used_at not written');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

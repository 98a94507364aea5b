import type { FastifyBaseLogger } from 'fastify';
import type { AuditLog } from './audit/audit-log';
import type { Config } from './config';
import type { Spool } from './data/spool';
import type { Keys } from './keys';
import type { Append, DialectName } from './store/database';
import type { Db } from './store/schema';
import type { ConfigSnapshot } from './store/snapshot';

/** What every part of a running gateway shares: settings, the database, keys and the audit log. */
export interface Gateway {
  config: Config;
  db: Db;
  dialect: DialectName;
  /** Bulk appends (COPY), for records written in batches. */
  append: Append;
  keys: Keys;
  audit: AuditLog;
  /** In-memory configuration, kept current by change notifications. */
  snapshot: ConfigSnapshot;
  /** Hash of the bootstrap owner token. */
  bootstrapTokenHash: string;
  log: FastifyBaseLogger;
  /** Local disk for records the database could not take (none with `PORTICO_DATA_DIR=memory://`). */
  spool?: Spool;
}

import type { ColumnType } from 'kysely';
import type { Timestamp } from './schema';

/*
 * The tables of people's sessions and the portal's read-outs: reset tokens, console sessions, the mail outbox,
 * metric roll-ups and node heartbeats (listed in `Database`, server/store/schema.ts).
 */

/** A password reset token of the tenant portal, by its SHA-256 hash (the token itself is only ever mailed). */
export interface PortalResetTokenTable {
  token_hash: string;
  user_id: string;
  user_owner: string;
  expires_at: Timestamp;
  used_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

/** A console sign-in with email and password, by its token's SHA-256 hash. */
export interface UserSessionTable {
  token_hash: string;
  user_id: string;
  user_owner: string;
  password_fingerprint: string;
  expires_at: Timestamp;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

/** A mail the tenant portal sends (password resets), queued with the change that needs it. */
export interface PortalMailOutboxTable {
  id: string;
  recipient: string;
  subject: string;
  /** AES-256-GCM under the master key (it may hold a reset link); '' once sent. */
  body_sealed: string;
  status: ColumnType<'PENDING' | 'SENT' | 'FAILED', 'PENDING' | undefined, 'PENDING' | 'SENT' | 'FAILED'>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  last_error: string | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  sent_at: ColumnType<Date | null, never, Date | string | null>;
}

/** One tenant's traffic in one time bucket, as the roll-up job computed it from request logs. */
export interface MetricRollupTable {
  tenant_id: string;
  /** The bucket's width: `5m` or `1h`. */
  granularity: string;
  bucket_start: Timestamp;
  requests: number;
  /** Answers of 500 and above. */
  errors: number;
  /** Answers from 400 to 499. */
  client_errors: number;
  latency_p50_ms: number;
  latency_p95_ms: number;
  latency_p99_ms: number;
  rolled_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** How far the roll-up job got, per granularity: every bucket before `done_through` is rolled up. */
export interface MetricRollupProgressTable {
  granularity: string;
  done_through: Timestamp;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** A running node that serves traffic, as it last reported itself. */
export interface GatewayNodeTable {
  id: string;
  role: string;
  /** The configuration version (audit chain seq) the node's snapshot is known to hold. */
  config_seq: ColumnType<number, number, number>;
  started_at: Timestamp;
  reported_at: Timestamp;
}

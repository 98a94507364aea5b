import type { ColumnType, Generated, Kysely, Transaction } from 'kysely';
import type {
  GatewayNodeTable,
  MetricRollupProgressTable,
  MetricRollupTable,
  PortalMailOutboxTable,
  PortalResetTokenTable,
  UserSessionTable,
} from './schema-accounts';

/** JSON values are written as text (`JSON.stringify`) and read back parsed, on both drivers. */
export type Json<T = unknown> = ColumnType<T, string, string>;
export type Timestamp = ColumnType<Date, Date | string, Date | string>;

/** Every configuration object, one row each; `data` is its public state as GET returns it. */
export interface ResourceTable {
  kind: string;
  id: string;
  tenant_id: string | null;
  /** The tenant id, or '' for a global resource: ids are unique per (kind, owner). Computed by the database. */
  owner: ColumnType<string, never, never>;
  data: Json<Record<string, unknown>>;
  /** A hash (keys, tokens) or AES-256-GCM ciphertext (credentials, webhook secrets); never in `data`. */
  secret: string | null;
  /** A unique lookup value per kind, such as the hash of an API key. */
  lookup: string | null;
  version: ColumnType<number, number | undefined, number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AuditEventTable {
  seq: ColumnType<number, number, never>;
  id: string;
  /** ISO-8601 text, hashed exactly as stored. */
  created_at: string;
  type: string;
  actor: Json<AuditActor>;
  tenant_id: string | null;
  resource_kind: string | null;
  resource_id: string | null;
  changes: Json<unknown>;
  trace_id: string | null;
  prev_hash: string;
  hash: string;
  signature: string;
}

/** The audit chain's newest seq and hash, signed (one row, id 1). */
export interface AuditHeadTable {
  id: number;
  seq: ColumnType<number, number, number>;
  hash: string;
  signature: string;
}

export interface AuditActor {
  type: string;
  id: string;
  name: string;
}

export interface SettingTable {
  key: string;
  value: string;
  created_at: Generated<Date>;
}

export interface ResourceVersionTable {
  kind: string;
  /** The resource's owner (see {@link ResourceTable.owner}). */
  owner: string;
  id: string;
  version: number;
  config: Json<Record<string, unknown>>;
  actor: Json<AuditActor>;
  created_at: Timestamp;
}

export interface UsageRecordTable {
  id: string;
  tenant_id: string;
  api_key_id: string | null;
  route_id: string | null;
  provider: string | null;
  model: string | null;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  created_at: Timestamp;
}

export interface WebhookDeliveryTable {
  id: string;
  webhook_id: string;
  /** The webhook's owner (see {@link ResourceTable.owner}). */
  webhook_owner: ColumnType<string, string | undefined, never>;
  event_id: string;
  event_type: string;
  /** The exact bytes sent and signed. */
  body: string;
  status: ColumnType<'PENDING' | 'DELIVERED' | 'FAILED', 'PENDING' | 'DELIVERED' | 'FAILED' | undefined>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface WebhookAttemptTable {
  delivery_id: string;
  attempt: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

/** One data-plane request: who, where, how it ended, how long it took. */
export interface RequestLogTable {
  id: string;
  tenant_id: string | null;
  api_key_id: string | null;
  route_id: string | null;
  kind: 'llm' | 'http';
  method: string;
  path: string;
  status: number;
  latency_ms: number;
  request_id: string;
  error_code: string | null;
  /** `passed` or `failed` when the request named a registered output schema; null otherwise. */
  schema_validation: ColumnType<string | null, string | null | undefined, never>;
  client_ip: string | null;
  created_at: Timestamp;
}

/** A data-plane failure worth a look (upstream errors, timeouts, open circuits, 500s), until someone resolves it. */
export interface ErrorEventTable {
  id: string;
  tenant_id: string | null;
  route_id: string | null;
  request_id: string;
  status: number;
  code: string;
  message: string;
  upstream: string | null;
  resolved: ColumnType<boolean, boolean | undefined, boolean>;
  resolved_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  created_at: Timestamp;
}

/** One health check of a service. */
export interface HealthSnapshotTable {
  id: string;
  tenant_id: string | null;
  service_id: string;
  status: 'UP' | 'DOWN';
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  checked_at: Timestamp;
}

/** An MCP tool call held by an approval gate (see migrations/008-mcp-approvals.ts). */
export interface McpApprovalTable {
  id: string;
  tenant_id: string;
  api_key_id: string;
  server_id: string;
  server_tenant_id: string | null;
  tool: string;
  /** The call's arguments as JSON text, for the approver to read. */
  arguments: string;
  arguments_hash: string;
  policy_id: string;
  policy_tenant_id: string | null;
  /** The gate's `approvers`, as a JSON array. */
  approvers: Json<string[]>;
  timeout_secs: number;
  status: 'pending' | 'approved' | 'denied' | 'used' | 'expired';
  open_key: string | null;
  expires_at: Timestamp;
  decided_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  decided_by: ColumnType<AuditActor | null, string | null | undefined, string | null>;
  used_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

/** The latest operator's quota reset of an API key (see store/quota-resets.ts). */
export interface QuotaResetTable {
  tenant_id: string;
  api_key_id: string;
  reset_at: Timestamp;
}

/** An API key's admitted requests in one UTC day or month, kept by triggers (see migrations/014-quota-usage.ts). */
export interface QuotaUsageTable {
  starts_at: Timestamp;
  period: 'day' | 'month';
  tenant_id: string;
  api_key_id: string;
  count: ColumnType<number, number, number>;
}

/** A SHADOW policy's count of one verdict, summed over every node (see migrations/011-policy-shadow-stats.ts). */
export interface PolicyShadowCountTable {
  /** The policy's owner (see {@link ResourceTable.owner}). */
  policy_owner: string;
  policy_id: string;
  verdict: string;
  count: ColumnType<number, number, number>;
  /** When the first of these was counted. */
  since: Timestamp;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** One request a SHADOW policy would have acted on. */
export interface PolicyShadowSampleTable {
  id: string;
  policy_owner: string;
  policy_id: string;
  at: Timestamp;
  sample: Json<Record<string, unknown>>;
}

export interface Database {
  resources: ResourceTable;
  audit_events: AuditEventTable;
  audit_head: AuditHeadTable;
  settings: SettingTable;
  resource_versions: ResourceVersionTable;
  usage_records: UsageRecordTable;
  webhook_deliveries: WebhookDeliveryTable;
  webhook_attempts: WebhookAttemptTable;
  request_logs: RequestLogTable;
  error_events: ErrorEventTable;
  health_snapshots: HealthSnapshotTable;
  mcp_approvals: McpApprovalTable;
  portal_reset_tokens: PortalResetTokenTable;
  portal_mail_outbox: PortalMailOutboxTable;
  user_sessions: UserSessionTable;
  metric_rollups: MetricRollupTable;
  metric_rollup_progress: MetricRollupProgressTable;
  gateway_nodes: GatewayNodeTable;
  quota_resets: QuotaResetTable;
  quota_usage: QuotaUsageTable;
  policy_shadow_counts: PolicyShadowCountTable;
  policy_shadow_samples: PolicyShadowSampleTable;
}

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
/** Either the database or a transaction on it: store functions accept both. */
export type Executor = Db | Tx;

export const json = (value: unknown): string => JSON.stringify(value);

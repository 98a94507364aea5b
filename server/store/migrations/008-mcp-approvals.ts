import { sql, type Kysely } from 'kysely';

/**
 * MCP tool-call approvals (approval_gate policies): one row per held call, shared by every node through the database.
 * `open_key` identifies the call (tenant, key, server, tool, arguments hash) while its approval is still open; it is
 * unique, so two nodes holding the same call at once open one approval, and cleared when the approval is used or ends.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('mcp_approvals')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('api_key_id', 'text', (c) => c.notNull())
    .addColumn('server_id', 'text', (c) => c.notNull())
    .addColumn('server_tenant_id', 'text')
    .addColumn('tool', 'text', (c) => c.notNull())
    .addColumn('arguments', 'text', (c) => c.notNull())
    .addColumn('arguments_hash', 'text', (c) => c.notNull())
    .addColumn('policy_id', 'text', (c) => c.notNull())
    .addColumn('policy_tenant_id', 'text')
    .addColumn('approvers', 'jsonb', (c) => c.notNull())
    .addColumn('timeout_secs', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('open_key', 'text', (c) => c.unique())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('decided_at', 'timestamptz')
    .addColumn('decided_by', 'jsonb')
    .addColumn('used_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('mcp_approvals_tenant_time')
    .on('mcp_approvals')
    .columns(['tenant_id', 'created_at'])
    .execute();
}

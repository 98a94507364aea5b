import { sql } from 'kysely';
import type { Executor } from './schema';

/**
 * The nodes that serve traffic, as they report themselves (see portal/readouts/node-heartbeat.ts), and the
 * configuration version they are measured against: the audit chain's seq, since every configuration change is an
 * audit event appended in its own transaction, and that append is what announces the change to every node.
 */

export interface NodeReport {
  id: string;
  role: string;
  config_seq: number;
  started_at: Date;
}

/** The newest audit seq: the configuration version current now (0 on an empty chain). */
export async function currentConfigSeq(db: Executor): Promise<number> {
  const row = await db.selectFrom('audit_head').select('seq').where('id', '=', 1).executeTakeFirst();
  return Number(row?.seq ?? 0);
}

/** Inserts or refreshes a node's report, stamped with the database's clock. */
export async function reportNode(db: Executor, node: NodeReport): Promise<void> {
  await db
    .insertInto('gateway_nodes')
    .values({ ...node, reported_at: sql<Date>`now()` })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({ config_seq: node.config_seq, role: node.role, reported_at: sql<Date>`now()` }),
    )
    .execute();
}

/** Forgets a node that stopped (and any that went silent long ago, so the table stays small). */
export async function forgetNode(db: Executor, id: string, silentFor: string = '1 day'): Promise<void> {
  await db
    .deleteFrom('gateway_nodes')
    .where((eb) => eb.or([eb('id', '=', id), eb('reported_at', '<', sql<Date>`now() - ${silentFor}::interval`)]))
    .execute();
}

/**
 * The configuration version a tenant's traffic depends on: the newest audit seq of a change to one of the tenant's
 * resources or a global one, among the kinds the data plane holds (`kinds`). 0 when there was none.
 */
export async function tenantConfigSeq(db: Executor, tenantId: string, kinds: readonly string[]): Promise<number> {
  const newest = (owner: string | null) => {
    const q = db
      .selectFrom('audit_events')
      .select('seq')
      .where('resource_kind', 'in', [...kinds]);
    return (owner === null ? q.where('tenant_id', 'is', null) : q.where('tenant_id', '=', owner))
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
  };
  const [own, global] = await Promise.all([newest(tenantId), newest(null)]);
  return Math.max(Number(own?.seq ?? 0), Number(global?.seq ?? 0));
}

/**
 * Whether some node serving traffic (`roles`) reported within `freshMs` holding configuration version `seq` or newer.
 */
export async function someNodeHolds(
  db: Executor,
  seq: number,
  roles: readonly string[],
  freshMs: number,
): Promise<boolean> {
  const row = await db
    .selectFrom('gateway_nodes')
    .select('id')
    .where('role', 'in', [...roles])
    .where('config_seq', '>=', seq)
    .where('reported_at', '>=', sql<Date>`now() - ${`${freshMs} milliseconds`}::interval`)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

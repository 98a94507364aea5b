import type { Insertable, Selectable } from 'kysely';
import type { AuditActor, Executor, McpApprovalTable, Tx } from './schema';
import { json } from './schema';
import { newestFirst, type TimePage, type TimePageOf } from './time-list';

/** MCP tool-call approvals: opened by the MCP proxy's approval gate, decided through the admin API. */

export type McpApproval = Selectable<McpApprovalTable>;
export type ApprovalStatus = McpApproval['status'];
export type NewApproval = Omit<Insertable<McpApprovalTable>, 'status' | 'approvers'> & { approvers: string[] };

/** The open approval of one call (pending, approved and not yet used, or denied and not yet over), if any. */
export function findOpenApproval(db: Executor, openKey: string): Promise<McpApproval | undefined> {
  return db.selectFrom('mcp_approvals').selectAll().where('open_key', '=', openKey).executeTakeFirst();
}

/**
 * Opens a pending approval for a call; when another node opened one for the same call a moment earlier, that one is
 * returned instead (`open_key` is unique).
 */
export async function openApproval(db: Executor, row: NewApproval): Promise<McpApproval> {
  const inserted = await db
    .insertInto('mcp_approvals')
    .values({ ...row, approvers: json(row.approvers), status: 'pending' })
    .onConflict((oc) => oc.column('open_key').doNothing())
    .returningAll()
    .executeTakeFirst();
  return inserted ?? (await findOpenApproval(db, row.open_key!))!;
}

/**
 * Moves an approval from `from` to a closed state (`used`, `expired`) or releases a denial (`denied` stays), freeing
 * its call for a new approval. Only one of several nodes racing on it gets the row back.
 */
export function closeApproval(
  db: Executor,
  id: string,
  from: ApprovalStatus,
  to: ApprovalStatus,
): Promise<McpApproval | undefined> {
  return db
    .updateTable('mcp_approvals')
    .set({ status: to, open_key: null, ...(to === 'used' ? { used_at: new Date() } : {}) })
    .where('id', '=', id)
    .where('status', '=', from)
    .returningAll()
    .executeTakeFirst();
}

/** One approval, locked until the transaction ends (two decisions on it are one after the other). */
export function lockApproval(tx: Tx, id: string): Promise<McpApproval | undefined> {
  return tx.selectFrom('mcp_approvals').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export function findApproval(db: Executor, id: string): Promise<McpApproval | undefined> {
  return db.selectFrom('mcp_approvals').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Records an approver's decision: the approval's clock starts again at `expiresAt`. */
export function decideApproval(
  tx: Tx,
  id: string,
  status: 'approved' | 'denied',
  actor: AuditActor,
  expiresAt: Date,
): Promise<McpApproval> {
  return tx
    .updateTable('mcp_approvals')
    .set({ status, decided_at: new Date(), decided_by: json(actor), expires_at: expiresAt })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export interface ApprovalFilter {
  tenant_id?: string;
  status?: ApprovalStatus;
  server_id?: string;
}

/**
 * One page of approvals, newest first. The status filter is the status as shown (`pending` and `approved` past their
 * expiry read as `expired`, whether or not a later call has marked them so).
 */
export function listApprovals(
  db: Executor,
  f: ApprovalFilter,
  page: TimePage,
  now: Date,
): Promise<TimePageOf<McpApproval>> {
  let q = db.selectFrom('mcp_approvals').selectAll();
  if (f.tenant_id) q = q.where('tenant_id', '=', f.tenant_id);
  if (f.server_id) q = q.where('server_id', '=', f.server_id);
  const status = f.status;
  if (status === 'pending' || status === 'approved') q = q.where('status', '=', status).where('expires_at', '>', now);
  else if (status === 'expired')
    q = q.where((eb) =>
      eb.or([
        eb('status', '=', 'expired'),
        eb.and([eb('status', 'in', ['pending', 'approved']), eb('expires_at', '<=', now)]),
      ]),
    );
  else if (status) q = q.where('status', '=', status);
  return newestFirst(q, 'created_at', page);
}

/** The status an approval shows at `now`: an open one past its expiry has expired. */
export function shownStatus(a: McpApproval, now: Date): ApprovalStatus {
  const open = a.status === 'pending' || a.status === 'approved';
  return open && new Date(a.expires_at).getTime() <= now.getTime() ? 'expired' : a.status;
}

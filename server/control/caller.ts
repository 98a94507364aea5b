import type { AuditActor } from '../store/schema';
import type { AdminRole } from '../resources/token';

/** Who is calling the admin API, as authentication found it. */
export interface Caller {
  /** `token` (a PAT or the bootstrap token), `cli` (a local command), `system` (the gateway itself), `user` (a portal sign-in). */
  type: 'token' | 'cli' | 'system' | 'user';
  id: string;
  name: string;
  role: AdminRole;
  /** Set for tenant roles: the only tenant this caller may see. */
  tenantId: string | null;
}

export interface CallContext {
  caller: Caller;
  traceId?: string;
}

export const actorOf = (c: Caller): AuditActor => ({ type: c.type, id: c.id, name: c.name });

export const SYSTEM_CALLER: Caller = { type: 'system', id: 'portico', name: 'portico', role: 'owner', tenantId: null };

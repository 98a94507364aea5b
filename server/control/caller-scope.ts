import { ApiError } from '../errors';
import type { Gateway } from '../gateway';
import type { Area, ResourceDefinition } from '../resources/define';
import { hasTenantField } from '../resources/schemas';
import { RefusalAuditLimit } from './admin-rate-limit';
import { actorOf, type CallContext } from './caller';
import { allows } from './permissions';

/** The tenants a request names: in its path, `?tenant_id=`, a tenant's own id, or a body's raw `tenant_id`. */
export interface NamedTenants {
  pathTenant?: string;
  id?: string;
  body?: unknown;
}

/**
 * What a caller may reach: its role's access to an area, and its tenant. A tenant-scoped caller naming another
 * tenant is refused (403) every time, and the refusal is written to the audit chain at a bounded rate per caller.
 */
export class CallerScope {
  private readonly refusals = new RefusalAuditLimit();

  constructor(private readonly gw: Gateway) {}

  /**
   * The role's access to the kind's area; and a platform-scoped kind (tiers, pricing: one value for every tenant)
   * is written by platform roles only, whatever a tenant role's access to its area.
   */
  authorize(ctx: CallContext, def: ResourceDefinition, need: 'read' | 'write'): void {
    if (!allows(ctx.caller.role, def.area, need)) {
      const verb = need === 'read' ? 'read' : 'change';
      throw new ApiError('FORBIDDEN', `The role "${ctx.caller.role}" may not ${verb} ${def.area}`);
    }
    if (need === 'write' && def.scope === 'platform' && ctx.caller.tenantId !== null) {
      throw new ApiError(
        'FORBIDDEN',
        `Only platform roles change ${def.plural.toLowerCase()}: they apply to every tenant`,
      );
    }
  }

  /** A tenant-scoped caller naming another tenant: 403, and a TENANT_SCOPE_VIOLATION event that outlives the request. */
  async assertTenant(ctx: CallContext, tenantId: string | null | undefined, field = 'tenant_id'): Promise<void> {
    const own = ctx.caller.tenantId;
    if (!own || tenantId === undefined || tenantId === own) return;
    if (tenantId === null)
      throw new ApiError('FORBIDDEN', 'Only platform roles manage global (tenant_id null) resources');
    const unrecorded = this.refusals.admit(ctx.caller.id);
    if (unrecorded !== undefined) {
      const changes = {
        field,
        requested_tenant_id: tenantId,
        ...(unrecorded ? { unrecorded_before: unrecorded } : {}),
      };
      const event = {
        type: 'TENANT_SCOPE_VIOLATION',
        actor: actorOf(ctx.caller),
        tenant_id: own,
        resource: { kind: 'tenant', id: tenantId },
        changes,
        trace_id: ctx.traceId,
      };
      await this.gw.db.transaction().execute((tx) => this.gw.audit.append(tx, [event]));
    }
    const details = [{ path: field, message: `is not the caller's tenant` }];
    throw new ApiError('TENANT_SCOPE_VIOLATION', `This token may only act on tenant "${own}"`, details);
  }

  /**
   * For reads outside the registry (audit, token usage, config export): a named tenant is checked first (scope before
   * role, as for resources), then the role's read access to `area`. Returns the tenant to narrow to, if any.
   */
  async readScope(
    ctx: CallContext,
    area: Area,
    named: string | undefined,
    what: string,
    field = 'tenant_id',
  ): Promise<string | undefined> {
    await this.assertTenant(ctx, named, field);
    if (!allows(ctx.caller.role, area, 'read'))
      throw new ApiError('FORBIDDEN', `The role "${ctx.caller.role}" may not ${what}`);
    return named ?? ctx.caller.tenantId ?? undefined;
  }

  /**
   * The tenants a request names are checked before the role, so naming a foreign tenant is always reported as a
   * scope violation.
   */
  async checkNamedTenants(ctx: CallContext, def: ResourceDefinition, named: NamedTenants): Promise<void> {
    if (named.pathTenant !== undefined) await this.assertTenant(ctx, named.pathTenant);
    if (def.scope === 'tenant-self' && named.id !== undefined) await this.assertTenant(ctx, named.id, 'id');
    const raw = named.body && typeof named.body === 'object' ? (named.body as Record<string, unknown>) : {};
    if (def.scope === 'tenant-self' && typeof raw.id === 'string') await this.assertTenant(ctx, raw.id, 'id');
    if (hasTenantField(def) && typeof raw.tenant_id === 'string') await this.assertTenant(ctx, raw.tenant_id);
  }
}

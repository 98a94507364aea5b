import { z } from 'zod';
import type { CallContext } from '../control/caller';
import { fieldsOf } from '../control/resource-input';
import type { PublicResource, ResourceService } from '../control/resource-service';
import { ApiError, notFound, validationError } from '../errors';
import type { ResourceDefinition } from '../resources/define';
import { service as serviceDef } from '../resources/service';
import { READ_ONLY } from './entities';

export const asDef = (d: unknown) => d as ResourceDefinition;

/** A PATCH body: any part of the entity; its read-only fields may be echoed back unchanged, not changed. */
export const patchOf = <T extends z.ZodObject>(input: T) =>
  input.partial().extend(Object.fromEntries(READ_ONLY.map((k) => [k, z.unknown().optional()])));

/** Refuses a PATCH that tries to change a read-only field (400 `is read-only` at it). */
export function assertReadOnlyUnchanged(body: Record<string, unknown>, current: Record<string, unknown>): void {
  const changed = READ_ONLY.filter((k) => body[k] !== undefined && body[k] !== current[k]);
  if (changed.length) throw validationError(changed.map((path) => ({ path, message: 'is read-only' })));
}

/**
 * Runs a resource service call and reports its errors at the entity's fields (`path_prefix` → `pathPattern`), so a
 * portal client sees the names it sent.
 */
export async function atEntityFields<T>(fields: Record<string, string>, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof ApiError) || !err.details.length) throw err;
    const back = new Map(Object.entries(fields).map(([entity, resource]) => [resource, entity]));
    const details = err.details.map((d) => {
      const [head, ...rest] = d.path.split('.');
      const renamed = back.get(head ?? '');
      if (!renamed) return d;
      // a one-value entity field stands for a list or an object on the resource: the error is the field's
      const whole = renamed === 'method' || renamed === 'rateLimitOverride';
      return { ...d, path: whole ? renamed : [renamed, ...rest].join('.') };
    });
    throw new ApiError(err.code, err.message, details).withHeaders(err.headers);
  }
}

/** How a portal entity maps onto its resource kind; `usable` says which of the tenant's resources it shows. */
export interface PortalEntity<E> {
  def: ResourceDefinition;
  /** Entity field → resource field (errors are reported at the entity's). */
  fields: Record<string, string>;
  fromBody(body: Record<string, unknown>): Record<string, unknown>;
  toEntity(r: PublicResource): E;
  usable?(r: PublicResource): boolean;
}

/** One of a tenant's resources by path: `/api/tenants/:tenantId/…/:id`. */
export interface OwnTarget {
  tenantId: string;
  id: string;
}

/** The portal's view of a tenant's resources: its own only (never global ones), soft-deleted ones left out. */
export class PortalResources {
  constructor(readonly service: ResourceService) {}

  /** Every resource of the kind the tenant owns, all pages. */
  async listOwn(ctx: CallContext, def: ResourceDefinition, tenantId: string): Promise<PublicResource[]> {
    const pathTenant = def.scope === 'tenant' ? tenantId : undefined;
    const query = def.scope === 'tenant' ? {} : { tenant_id: tenantId };
    const out: PublicResource[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.service.list(ctx, def, { ...query, limit: 500, cursor }, pathTenant);
      out.push(...page.data.filter((r) => r.tenant_id === tenantId));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return out;
  }

  /** One of the tenant's own resources, not soft-deleted; 404 otherwise (another tenant's, a global one, deleted). */
  async getOwn(
    ctx: CallContext,
    def: ResourceDefinition,
    tenantId: string,
    id: string,
    usable: (r: PublicResource) => boolean = () => true,
  ): Promise<PublicResource> {
    const found = await this.service.get(ctx, def, { id, owner: tenantId });
    if (found.tenant_id !== tenantId || (found.deleted_at ?? null) !== null || !usable(found))
      throw notFound(`${def.title} "${id}"`);
    return found;
  }

  /** The entities of the tenant's usable resources that are not soft-deleted. */
  async listEntities<E>(entity: PortalEntity<E>, ctx: CallContext, tenantId: string): Promise<E[]> {
    const rows = await this.listOwn(ctx, entity.def, tenantId);
    return rows.filter((r) => (entity.usable?.(r) ?? true) && r.deleted_at === null).map(entity.toEntity);
  }

  /** A create in the tenant from the entity's body. */
  async createOwn<E>(entity: PortalEntity<E>, ctx: CallContext, tenantId: string, body: Record<string, unknown>) {
    const fields = { ...entity.fromBody(body), tenant_id: tenantId };
    return entity.toEntity(await atEntityFields(entity.fields, () => this.service.create(ctx, entity.def, fields)));
  }

  /**
   * A partial update: the stored fields with the body's over them; its read-only entity fields must be unchanged, and
   * `check` runs after that, before the write.
   */
  async patchOwn<E>(
    entity: PortalEntity<E>,
    ctx: CallContext,
    { tenantId, id }: OwnTarget,
    body: Record<string, unknown>,
    check: () => Promise<void> = async () => {},
  ): Promise<E> {
    const current = await this.getOwn(ctx, entity.def, tenantId, id, entity.usable);
    assertReadOnlyUnchanged(body, entity.toEntity(current) as Record<string, unknown>);
    await check();
    const fields = { ...fieldsOf(entity.def, current), ...entity.fromBody(body) };
    const update = () => this.service.update(ctx, entity.def, { id, owner: tenantId }, fields);
    return entity.toEntity(await atEntityFields(entity.fields, update));
  }

  /** A soft delete: `deleted_at` set (with `also`), the resource kept. */
  async softDelete<E>(
    entity: PortalEntity<E>,
    ctx: CallContext,
    { tenantId, id }: OwnTarget,
    also: Record<string, unknown> = {},
  ): Promise<void> {
    const current = await this.getOwn(ctx, entity.def, tenantId, id, entity.usable);
    const fields = { ...fieldsOf(entity.def, current), ...also, deleted_at: new Date().toISOString() };
    await this.service.update(ctx, entity.def, { id, owner: tenantId }, fields);
  }

  /** A route may send only to a service the tenant can use that is not soft-deleted: else 400 at `serviceId`. */
  async assertLiveService(ctx: CallContext, tenantId: string, serviceId: string): Promise<void> {
    const found = await this.service.get(ctx, asDef(serviceDef), { id: serviceId }).catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    });
    if (!found || (found.tenant_id !== tenantId && found.tenant_id !== null) || found.deleted_at !== null)
      throw validationError([{ path: 'serviceId', message: `no service "${serviceId}" exists` }]);
  }
}

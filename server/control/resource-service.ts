import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ApiError, notFound, validationError, type ErrorDetail } from '../errors';
import type { Gateway } from '../gateway';
import { issuesToDetails } from '../lib/zod-errors';
import { encryptSecret, generateToken, hashToken } from '../lib/secrets';
import type { Area, ResourceDefinition } from '../resources/define';
import { hasTenantField, isNested, schemasFor } from '../resources/schemas';
import type { AdminRole } from '../resources/token';
import * as store from '../store/resource-store';
import type { StoredResource } from '../store/resource-store';
import type { Executor, Tx } from '../store/schema';
import { actorOf, type CallContext } from './caller';
import { decodeIdCursor, encodeIdCursor } from './time-page';
import { allows, grantableRoles } from './permissions';
import { RefusalAuditLimit } from './admin-rate-limit';
import { diffFields, type FieldChanges } from '../lib/diff';
import { canonicalJson } from '../lib/canonical-json';
import { RESOURCES } from '../resources';
import { rolledBackEventType, updatedEventType } from '../resources/events';
import * as versions from '../store/version-store';
import { assertClaimFree, lockClaims } from './path-claims';
import { assertUnreferenced } from './referrers';

/** A resource as GET returns it. */
export type PublicResource = Record<string, unknown> & { id: string };

export interface ListParams {
  tenant_id?: string;
  limit?: number;
  cursor?: string;
}

export interface Page {
  object: 'list';
  data: PublicResource[];
  next_cursor: string | null;
}

const now = () => new Date().toISOString();

/** A server-made id: the kind's prefix and 24 lower-case hex digits (96 random bits), a slug every surface accepts. */
const newId = (def: ResourceDefinition) => ('prefix' in def.id ? def.id.prefix : '') + randomBytes(12).toString('hex');

/** The audit changes of a write, noting (never showing) a new secret. */
const withSecretChange = (def: ResourceDefinition, changes: FieldChanges, rotated: boolean): FieldChanges =>
  rotated && def.secret ? { ...changes, [def.secret.field]: { from: '***', to: '***' } } : changes;

/** Runs a write, turning a clash on the definition's `unique` value into a 409. */
async function unique<T>(def: ResourceDefinition, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if ((err as { code?: string }).code === '23505' && def.unique) throw new ApiError('ALREADY_EXISTS', `Another ${def.title.toLowerCase()} already has these values`, [{ path: '', message: 'must be unique' }]);
    throw err;
  }
}
/** A create setting a `futureOnCreate` field to a moment already past. */
const pastDates = (def: ResourceDefinition, data: Record<string, unknown>): ErrorDetail[] =>
  (def.futureOnCreate ?? [])
    .filter((f) => typeof data[f] === 'string' && Date.parse(data[f]) <= Date.now())
    .map((f) => ({ path: f, message: 'must be in the future' }));

const rollbackBody = z.strictObject({ version: z.number().int().min(1) });

export function toPublic(def: ResourceDefinition, row: StoredResource): PublicResource {
  return {
    id: row.id,
    ...(hasTenantField(def) ? { tenant_id: row.tenant_id } : {}),
    ...row.data,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/**
 * Create, read, update, delete and actions for any registered resource, with validation, roles, tenant scope and
 * audit. Every admin surface (and config import) goes through here.
 */
export class ResourceService {
  /** Scope violations are refused every time, but written to the audit chain at a bounded rate per caller. */
  private readonly refusals = new RefusalAuditLimit();

  constructor(private readonly gw: Gateway) {}

  // ---- authorization -------------------------------------------------------------------------------------------

  /**
   * The role's access to the kind's area; and a platform-scoped kind (tiers, pricing: one value for every tenant)
   * is written by platform roles only, whatever a tenant role's access to its area.
   */
  private authorize(ctx: CallContext, def: ResourceDefinition, need: 'read' | 'write'): void {
    if (!allows(ctx.caller.role, def.area, need)) {
      throw new ApiError('FORBIDDEN', `The role "${ctx.caller.role}" may not ${need === 'read' ? 'read' : 'change'} ${def.area}`);
    }
    if (need === 'write' && def.scope === 'platform' && ctx.caller.tenantId !== null) {
      throw new ApiError('FORBIDDEN', `Only platform roles change ${def.plural.toLowerCase()}: they apply to every tenant`);
    }
  }

  /** A tenant-scoped caller naming another tenant: 403, and a TENANT_SCOPE_VIOLATION event that outlives the request. */
  async assertTenant(ctx: CallContext, tenantId: string | null | undefined, field = 'tenant_id'): Promise<void> {
    const own = ctx.caller.tenantId;
    if (!own || tenantId === undefined || tenantId === own) return;
    if (tenantId === null) throw new ApiError('FORBIDDEN', 'Only platform roles manage global (tenant_id null) resources');
    const unrecorded = this.refusals.admit(ctx.caller.id);
    if (unrecorded !== undefined) {
      const changes = { field, requested_tenant_id: tenantId, ...(unrecorded ? { unrecorded_before: unrecorded } : {}) };
      await this.gw.db.transaction().execute((tx) =>
        this.gw.audit.append(tx, [
          {
            type: 'TENANT_SCOPE_VIOLATION', actor: actorOf(ctx.caller), tenant_id: own,
            resource: { kind: 'tenant', id: tenantId }, changes, trace_id: ctx.traceId,
          },
        ]),
      );
    }
    throw new ApiError('TENANT_SCOPE_VIOLATION', `This token may only act on tenant "${own}"`, [{ path: field, message: `is not the caller's tenant` }]);
  }

  /**
   * For reads outside the registry (audit, token usage, config export): a named tenant is checked first (scope before
   * role, as for resources), then the role's read access to `area`. Returns the tenant to narrow to, if any.
   */
  async readScope(ctx: CallContext, area: Area, named: string | undefined, what: string, field = 'tenant_id'): Promise<string | undefined> {
    await this.assertTenant(ctx, named, field);
    if (!allows(ctx.caller.role, area, 'read')) throw new ApiError('FORBIDDEN', `The role "${ctx.caller.role}" may not ${what}`);
    return named ?? ctx.caller.tenantId ?? undefined;
  }

  /**
   * The tenant a request names — in its path, its query, a tenant's own id, or a body's raw `tenant_id` — is checked
   * before the role, so naming a foreign tenant is always reported as a scope violation.
   */
  private async checkNamedTenants(ctx: CallContext, def: ResourceDefinition, named: { pathTenant?: string; id?: string; body?: unknown }): Promise<void> {
    if (named.pathTenant !== undefined) await this.assertTenant(ctx, named.pathTenant);
    if (def.scope === 'tenant-self' && named.id !== undefined) await this.assertTenant(ctx, named.id, 'id');
    const raw = named.body && typeof named.body === 'object' ? (named.body as Record<string, unknown>) : {};
    if (def.scope === 'tenant-self' && typeof raw.id === 'string') await this.assertTenant(ctx, raw.id, 'id');
    if (hasTenantField(def) && typeof raw.tenant_id === 'string') await this.assertTenant(ctx, raw.tenant_id);
  }

  /** Loads one resource the caller may see; 404 otherwise (a foreign tenant's resource is not revealed). */
  private async load(db: Executor, ctx: CallContext, def: ResourceDefinition, id: string, pathTenant: string | undefined, forWrite: boolean): Promise<StoredResource> {
    const row = await store.getResource(db, def.kind, id, forWrite && db !== this.gw.db);
    const own = ctx.caller.tenantId;
    const foreign = (t: string | null) => (t === null ? def.nullTenant === 'platform-only' : t !== own);
    const hidden = !row || (isNested(def) && row.tenant_id !== pathTenant) || (own && def.scope !== 'tenant-self' && foreign(row.tenant_id));
    if (hidden) throw notFound(`${def.title} "${id}"`);
    if (forWrite && own && hasTenantField(def) && row.tenant_id === null) {
      throw new ApiError('FORBIDDEN', 'Only platform roles manage global (tenant_id null) resources');
    }
    return row;
  }

  /**
   * The resource a sub-resource or action hangs off (versions, deliveries, a webhook test), checked exactly as a
   * read or a write of that resource itself: what the caller may not see is a 404, what it may not change a 403.
   */
  async loadParent(
    ctx: CallContext, def: ResourceDefinition, id: string, need: 'read' | 'write', pathTenant?: string,
  ): Promise<StoredResource> {
    await this.checkNamedTenants(ctx, def, { pathTenant, id });
    this.authorize(ctx, def, need);
    return this.load(this.gw.db, ctx, def, id, pathTenant, need === 'write');
  }

  private async requireTenant(db: Executor, tenantId: string, nested: boolean): Promise<void> {
    if (await store.getResource(db, 'tenant', tenantId)) return;
    if (nested) throw notFound(`Tenant "${tenantId}"`);
    throw validationError([{ path: 'tenant_id', message: `no tenant "${tenantId}" exists` }]);
  }

  // ---- reads ---------------------------------------------------------------------------------------------------

  async list(ctx: CallContext, def: ResourceDefinition, params: ListParams, pathTenant?: string): Promise<Page> {
    // Both a path tenant and `?tenant_id=` may name a tenant: each is checked, and they must agree.
    await this.assertTenant(ctx, pathTenant);
    await this.assertTenant(ctx, params.tenant_id);
    if (pathTenant !== undefined && params.tenant_id !== undefined && params.tenant_id !== pathTenant) {
      throw validationError([{ path: 'tenant_id', message: 'must match the tenant in the path' }]);
    }
    const named = pathTenant ?? params.tenant_id;
    this.authorize(ctx, def, 'read');
    const limit = params.limit ?? 50;
    const tenant = named ?? ctx.caller.tenantId ?? undefined;
    let tenants: (string | null)[] | undefined;
    let ids: string[] | undefined;
    if (tenant !== undefined) {
      if (def.scope === 'tenant-self') ids = [tenant];
      else if (def.scope === 'tenant') tenants = [tenant];
      else if (def.scope === 'tenant-optional') tenants = named === undefined && def.nullTenant !== 'platform-only' ? [tenant, null] : [tenant];
    }
    const after = params.cursor ? decodeIdCursor(params.cursor) : undefined;
    // Narrowed in the query, never after the page is cut (a page of others' rows would hide the caller's own).
    const rows = await store.listResources(this.gw.db, def.kind, { tenants, ids, after, limit: limit + 1 });
    const more = rows.length > limit;
    const data = rows.slice(0, limit).map((r) => toPublic(def, r));
    const last = data[data.length - 1];
    return { object: 'list', data, next_cursor: more && last ? encodeIdCursor(last.id) : null };
  }

  async get(ctx: CallContext, def: ResourceDefinition, id: string, pathTenant?: string): Promise<PublicResource> {
    await this.checkNamedTenants(ctx, def, { pathTenant, id });
    this.authorize(ctx, def, 'read');
    return toPublic(def, await this.load(this.gw.db, ctx, def, id, pathTenant, false));
  }

  // ---- writes --------------------------------------------------------------------------------------------------

  /** Parses a write body: read-only fields, then the zod schema, then the definition's own checks. */
  private parse(def: ResourceDefinition, body: unknown, mode: 'create' | 'update'): Record<string, unknown> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw validationError([{ path: '', message: 'the body must be a JSON object' }]);
    const schemas = schemasFor(def);
    const details: ErrorDetail[] = Object.keys(body)
      .filter((k) => schemas.readOnly.includes(k))
      .map((k) => ({ path: k, message: 'is read-only' }));
    const clean = Object.fromEntries(Object.entries(body).filter(([k]) => !schemas.readOnly.includes(k)));
    const parsed = (mode === 'create' ? schemas.create : schemas.update).safeParse(clean);
    if (!parsed.success) details.push(...issuesToDetails(parsed.error));
    else if (mode === 'create') details.push(...pastDates(def, parsed.data as Record<string, unknown>));
    if (details.length) throw validationError(details);
    return parsed.data as Record<string, unknown>;
  }

  private checkState(def: ResourceDefinition, state: Record<string, unknown>): void {
    const problems = def.check?.(state as never) ?? [];
    if (problems.length) throw validationError(problems);
  }

  /** The secret material for a new or rotated secret: stored columns, public fields, and what to show once. */
  private seal(def: ResourceDefinition, given: unknown): { secret: string; lookup: string | null; data: Record<string, unknown>; shown: Record<string, string> } | undefined {
    const rule = def.secret;
    if (!rule) return undefined;
    if (rule.mode === 'generated') {
      const token = generateToken(rule.prefix);
      const hash = hashToken(token);
      const data = rule.prefixField ? { [rule.prefixField]: token.slice(0, rule.prefix.length + 8) } : {};
      return { secret: hash, lookup: hash, data, shown: { [rule.field]: token } };
    }
    if (given === undefined && !rule.generatePrefix) return undefined;
    const value = typeof given === 'string' ? given : generateToken(rule.generatePrefix!);
    const data: Record<string, unknown> = {};
    if (rule.setField) data[rule.setField] = true;
    if (rule.last4Field) data[rule.last4Field] = value.slice(-4);
    const shown = given === undefined || rule.showOnCreate ? { [rule.field]: value } : {};
    return { secret: encryptSecret(this.gw.keys.masterKey, value), lookup: null, data, shown };
  }

  private split(def: ResourceDefinition, parsed: Record<string, unknown>): Record<string, unknown> {
    const fields: Record<string, unknown> = {};
    for (const key of Object.keys(def.fields.shape)) fields[key] = parsed[key];
    return fields;
  }

  async create(ctx: CallContext, def: ResourceDefinition, body: unknown, pathTenant?: string, tx?: Tx): Promise<PublicResource> {
    await this.checkNamedTenants(ctx, def, { pathTenant, body });
    this.authorize(ctx, def, 'write');
    const parsed = this.parse(def, body, 'create');
    if (pathTenant !== undefined && parsed.tenant_id !== undefined && parsed.tenant_id !== pathTenant) {
      throw validationError([{ path: 'tenant_id', message: 'must match the tenant in the path' }]);
    }
    let tenantId: string | null = null;
    if (def.scope === 'tenant') tenantId = (pathTenant ?? parsed.tenant_id) as string;
    if (def.scope === 'tenant-optional') tenantId = parsed.tenant_id === undefined ? ctx.caller.tenantId : (parsed.tenant_id as string | null);
    if (hasTenantField(def)) await this.assertTenant(ctx, tenantId);
    if (def.scope === 'tenant-self') await this.assertTenant(ctx, parsed.id as string, 'id');
    const fields = this.split(def, parsed);
    // Before the role/tenant combination is checked: a caller asking for a role above its own is refused (403), not
    // told how to fix the request (400 "tenant_id must be null for the platform role").
    const granted = def.grant && fields[def.grant.field];
    if (def.grant && !grantableRoles(ctx.caller.role).includes(granted as AdminRole)) {
      throw new ApiError('FORBIDDEN', `The role "${ctx.caller.role}" may not create a ${def.kind} with the role "${granted}"`, [{ path: def.grant.field, message: 'is above what the caller may grant' }]);
    }
    this.checkState(def, { ...fields, tenant_id: tenantId });
    const id = (parsed.id as string | undefined) ?? newId(def);
    const sealed = this.seal(def, def.secret ? parsed[def.secret.field] : undefined);
    const data = { ...fields, ...def.computed.parse({}), ...sealed?.data };

    const run = async (t: Tx) => {
      await lockClaims(t, def);
      if (tenantId !== null) await this.requireTenant(t, tenantId, pathTenant !== undefined);
      await this.checkReferences(t, def, fields, tenantId);
      await assertClaimFree(t, def, tenantId, fields);
      const row = await unique(def, () => store.insertResource(t, { kind: def.kind, id, tenant_id: tenantId, data, secret: sealed?.secret, lookup: sealed?.lookup ?? def.unique?.(fields as never) ?? null }));
      if (!row) throw new ApiError('ALREADY_EXISTS', `${def.title} "${id}" already exists`, [{ path: 'id', message: 'is taken' }]);
      if (def.versioned) await versions.recordVersion(t, def.kind, id, 1, fields, actorOf(ctx.caller));
      const out = toPublic(def, row);
      await this.gw.audit.append(t, [this.event(ctx, def, def.audit.created, row, diffFields({}, data))]);
      return out;
    };
    const out = tx ? await run(tx) : await this.gw.db.transaction().execute(run);
    return { ...out, ...sealed?.shown };
  }

  async update(ctx: CallContext, def: ResourceDefinition, id: string, body: unknown, pathTenant?: string, tx?: Tx): Promise<PublicResource> {
    await this.checkNamedTenants(ctx, def, { pathTenant, id, body });
    this.authorize(ctx, def, 'write');
    const parsed = this.parse(def, body, 'update');
    if (parsed.id !== undefined && parsed.id !== id) throw validationError([{ path: 'id', message: 'cannot change; create a new resource instead' }]);
    const run = async (t: Tx) => {
      await lockClaims(t, def);
      const row = await this.load(t, ctx, def, id, pathTenant, true);
      if (parsed.tenant_id !== undefined && parsed.tenant_id !== row.tenant_id) {
        throw validationError([{ path: 'tenant_id', message: 'cannot change; create a new resource instead' }]);
      }
      const fields = this.split(def, parsed);
      const immutable = (def.immutable ?? []).filter((f) => canonicalJson(fields[f]) !== canonicalJson(row.data[f]));
      if (immutable.length) throw validationError(immutable.map((f) => ({ path: f, message: 'cannot change; create a new resource instead' })));
      this.checkState(def, { ...fields, tenant_id: row.tenant_id });
      await this.checkReferences(t, def, fields, row.tenant_id);
      await assertClaimFree(t, def, row.tenant_id, fields, row.data);
      // A write-only secret left out keeps the stored one; only a given value replaces it.
      const given = def.secret?.mode === 'encrypted' ? parsed[def.secret.field] : undefined;
      const sealed = given === undefined ? undefined : this.seal(def, given);
      const data = { ...row.data, ...fields, ...sealed?.data };
      const changes = diffFields(row.data, data);
      if (!Object.keys(changes).length && !sealed) return toPublic(def, row);
      const updated = await this.write(t, ctx, def, row, data, sealed?.secret);
      const events = [this.event(ctx, def, updatedEventType(def), updated, withSecretChange(def, changes, !!sealed))];
      for (const [field, type] of Object.entries(def.audit.fieldEvents ?? {})) {
        if (field in changes) events.push(this.event(ctx, def, type, updated, { [field]: changes[field] }));
      }
      await this.gw.audit.append(t, events);
      return toPublic(def, updated);
    };
    return tx ? run(tx) : this.gw.db.transaction().execute(run);
  }

  async remove(ctx: CallContext, def: ResourceDefinition, id: string, options: { cascade?: boolean } = {}, pathTenant?: string, tx?: Tx): Promise<void> {
    await this.checkNamedTenants(ctx, def, { pathTenant, id });
    this.authorize(ctx, def, 'write');
    const run = async (t: Tx) => {
      const row = await this.load(t, ctx, def, id, pathTenant, true);
      const events = [];
      if (def.scope === 'tenant-self') {
        const owned = await store.ownedResources(t, id);
        if (owned.length && !options.cascade) {
          const kinds = [...new Set(owned.map((o) => o.kind))].map((k) => `${owned.filter((o) => o.kind === k).length} ${k}`);
          throw new ApiError('TENANT_HAS_RESOURCES', `Tenant "${id}" still owns ${kinds.join(', ')}; delete them first or pass ?cascade=true`);
        }
        // What a tenant owns only its own resources can name, and they all go with it: no reference check for them.
        for (const child of [...owned].reverse()) {
          const childDef = RESOURCES.find((r) => r.kind === child.kind);
          await store.deleteResource(t, child.kind, child.id);
          if (childDef?.versioned) await versions.deleteVersions(t, child.kind, child.id);
          if (childDef) events.push(this.event(ctx, childDef, childDef.audit.deleted, child, diffFields(child.data, {})));
        }
      } else {
        await assertUnreferenced(t, def, id, ctx.caller.tenantId);
      }
      await store.deleteResource(t, def.kind, id);
      if (def.versioned) await versions.deleteVersions(t, def.kind, id);
      events.push(this.event(ctx, def, def.audit.deleted, row, diffFields(row.data, {})));
      await this.gw.audit.append(t, events);
    };
    await (tx ? run(tx) : this.gw.db.transaction().execute(run));
  }

  async action(ctx: CallContext, def: ResourceDefinition, id: string, name: string, pathTenant?: string, body?: unknown): Promise<PublicResource> {
    const action = def.actions?.[name];
    if (!action) throw new ApiError('ROUTE_NOT_FOUND', `${def.title} has no action "${name}"`);
    await this.checkNamedTenants(ctx, def, { pathTenant, id });
    this.authorize(ctx, def, 'write');
    let sealed: ReturnType<ResourceService['seal']>;
    if (action.takesSecret && def.secret) {
      const field = def.secret.field;
      const parsed = z.strictObject({ [field]: z.string().min(1).max(4096) }).safeParse(body ?? {});
      if (!parsed.success) throw validationError(issuesToDetails(parsed.error));
      sealed = this.seal(def, parsed.data[field]);
    }
    return this.gw.db.transaction().execute(async (t) => {
      const row = await this.load(t, ctx, def, id, pathTenant, true);
      if (action.when && !action.when.in.includes(row.data[action.when.field])) {
        throw new ApiError('CONFLICT', `${def.title} "${id}" is ${String(row.data[action.when.field])}; "${name}" needs ${action.when.field} ${action.when.in.join(' or ')}`);
      }
      const set = Object.fromEntries(Object.entries(action.set).map(([k, v]) => [k, v === 'now' ? now() : v]));
      const data = { ...row.data, ...set, ...sealed?.data };
      const updated = await store.updateResource(t, def.kind, id, { data, secret: sealed?.secret });
      const changes = diffFields(row.data, data);
      await this.gw.audit.append(t, [this.event(ctx, def, action.audit, updated, withSecretChange(def, changes, !!sealed))]);
      return toPublic(def, updated);
    });
  }

  /** Writes a new state; a versioned resource gets the next version number and a stored copy of its fields. */
  private async write(t: Tx, ctx: CallContext, def: ResourceDefinition, row: StoredResource, data: Record<string, unknown>, secret?: string): Promise<StoredResource> {
    const lookup = def.unique ? def.unique(this.split(def, data) as never) : undefined;
    if (!def.versioned) return unique(def, () => store.updateResource(t, def.kind, row.id, { data, secret, lookup }));
    const version = Number(row.data.version ?? 1) + 1;
    const updated = await store.updateResource(t, def.kind, row.id, { data: { ...data, version }, secret, bumpVersion: true });
    await versions.recordVersion(t, def.kind, row.id, version, this.split(def, data), actorOf(ctx.caller));
    return updated;
  }

  /** Top-level fields that name another resource must name one that exists, in the same tenant or global. */
  private async checkReferences(t: Tx, def: ResourceDefinition, fields: Record<string, unknown>, tenantId: string | null): Promise<void> {
    for (const [field, kind] of Object.entries(def.references ?? {})) {
      const id = fields[field];
      if (typeof id !== 'string') continue;
      // Locked until commit: a concurrent delete of the target waits, then sees this resource name it (and refuses).
      const target = await store.getResource(t, kind, id, true);
      if (!store.nameable(target, tenantId)) {
        const platformWide = RESOURCES.find((r) => r.kind === kind)?.scope === 'platform';
        throw validationError([{ path: field, message: `no ${kind} "${id}" exists${tenantId && !platformWide ? ` in tenant "${tenantId}"` : ''}` }]);
      }
    }
  }

  /** The kept versions of a versioned resource, newest first. */
  async versions(ctx: CallContext, def: ResourceDefinition, id: string): Promise<{ object: 'list'; data: versions.StoredVersion[]; next_cursor: null }> {
    await this.loadParent(ctx, def, id, 'read');
    return { object: 'list', data: await versions.listVersions(this.gw.db, def.kind, id), next_cursor: null };
  }

  /** Makes a NEW version holding the configuration of version `n`. */
  async rollback(ctx: CallContext, def: ResourceDefinition, id: string, body: unknown): Promise<PublicResource> {
    await this.checkNamedTenants(ctx, def, { id });
    this.authorize(ctx, def, 'write');
    const parsed = rollbackBody.safeParse(body ?? {});
    if (!parsed.success) throw validationError(issuesToDetails(parsed.error));
    return this.gw.db.transaction().execute(async (t) => {
      await lockClaims(t, def);
      const row = await this.load(t, ctx, def, id, undefined, true);
      const target = await versions.getVersion(t, def.kind, id, parsed.data.version);
      if (!target) {
        throw new ApiError('NOT_FOUND', `${def.title} "${id}" has no version ${parsed.data.version} (the newest ${versions.KEPT_VERSIONS} versions are kept)`, [{ path: 'version', message: 'is not a kept version' }]);
      }
      const restored = def.fields.parse(target.config) as Record<string, unknown>;
      await assertClaimFree(t, def, row.tenant_id, restored, row.data);
      const data = { ...row.data, ...restored };
      const updated = await this.write(t, ctx, def, row, data);
      const changes = { ...diffFields(row.data, data), restored_version: { from: null, to: parsed.data.version } };
      await this.gw.audit.append(t, [this.event(ctx, def, rolledBackEventType(def), updated, changes)]);
      return toPublic(def, updated);
    });
  }

  private event(ctx: CallContext, def: ResourceDefinition, type: string, row: StoredResource, changes: FieldChanges) {
    const tenantId = def.scope === 'tenant-self' ? row.id : row.tenant_id;
    return { type, actor: actorOf(ctx.caller), tenant_id: tenantId, resource: { kind: def.kind, id: row.id }, changes, trace_id: ctx.traceId ?? null };
  }
}

import { ApiError, validationError } from '../errors';
import type { Gateway } from '../gateway';
import { diffFields } from '../lib/diff';
import { issuesToDetails } from '../http/zod-errors';
import type { ResourceDefinition } from '../resources/define';
import { rolledBackEventType } from '../resources/events';
import { hasTenantField, rollbackBody, secretActionBody } from '../resources/schemas';
import type { AdminRole } from '../resources/token';
import * as store from '../store/resource-store';
import type { Executor, Tx } from '../store/schema';
import * as versions from '../store/version-store';
import { actorOf, type CallContext } from './caller';
import { CallerScope } from './caller-scope';
import { assertClaimFree, lockClaims } from './path-claims';
import { grantableRoles } from './permissions';
import { assertReferencesExist, assertUnreferenced } from './referrers';
import {
  changeInOneStatement,
  changesInOneStatement,
  createInOneStatement,
  deleteInOneStatement,
  deletesInOneStatement,
} from './one-statement-writes';
import { assertIdFree, idTaken, newId, uniqueValues } from './resource-ids';
import { actionOf, checkUpdate, updateOf } from './resource-changes';
import { resourceEvent } from './resource-events';
import { checkState, fieldsOf, ownerOfNew, parseBody } from './resource-input';
import { removeOwned } from './tenant-cascade';
import { listVisible, toPublic, type ListParams, type Page, type PublicResource } from './resource-list';
import { loadVisible, requireTenant, type Target } from './resource-lookup';
import { noSecretYet, sealSecret, type Sealed } from './secret-seal';
import { runWriteCheck } from './write-checks';

export type { Target } from './resource-lookup';
export { toPublic, type ListParams, type Page, type PublicResource } from './resource-list';

/** Options of a write: the nested path's tenant (creates), a transaction to join (config import). */
export interface WriteOptions {
  pathTenant?: string;
  tx?: Tx;
}

/**
 * Create, read, update, delete and actions for any registered resource, with validation, roles, tenant scope and
 * audit. Every admin surface (and config import) goes through here; each step's rules live in their own module.
 */
export class ResourceService {
  readonly scope: CallerScope;

  constructor(readonly gw: Gateway) {
    this.scope = new CallerScope(gw);
  }

  /** Runs `work` in the given transaction, or in a new one. */
  private inTransaction<T>(tx: Tx | undefined, work: (t: Tx) => Promise<T>): Promise<T> {
    return tx ? work(tx) : this.gw.db.transaction().execute(work);
  }

  /** Checks the tenants a request names and the caller's role, in that order (a foreign tenant is always a 403). */
  private async admit(
    ctx: CallContext,
    def: ResourceDefinition,
    need: 'read' | 'write',
    named: { pathTenant?: string; id?: string; body?: unknown },
  ) {
    await this.scope.checkNamedTenants(ctx, def, named);
    this.scope.authorize(ctx, def, need);
  }

  private load(db: Executor, ctx: CallContext, def: ResourceDefinition, target: Target, forWrite: boolean) {
    return loadVisible(db, ctx, def, target, forWrite && { lock: db !== this.gw.db });
  }

  /**
   * The resource a sub-resource or action hangs off (versions, deliveries, a webhook test), checked exactly as a
   * read or a write of that resource itself: what the caller may not see is a 404, what it may not change a 403.
   */
  async loadParent(
    ctx: CallContext,
    def: ResourceDefinition,
    target: Target,
    need: 'read' | 'write',
  ): Promise<store.StoredResource> {
    await this.admit(ctx, def, need, { pathTenant: target.owner, id: target.id });
    return this.load(this.gw.db, ctx, def, target, need === 'write');
  }

  // ---- reads ---------------------------------------------------------------------------------------------------

  list(ctx: CallContext, def: ResourceDefinition, params: ListParams, pathTenant?: string): Promise<Page> {
    return listVisible(this.gw.db, this.scope, ctx, def, params, pathTenant);
  }

  async get(ctx: CallContext, def: ResourceDefinition, target: Target): Promise<PublicResource> {
    await this.admit(ctx, def, 'read', { pathTenant: target.owner, id: target.id });
    return toPublic(def, await this.load(this.gw.db, ctx, def, target, false));
  }

  // ---- writes --------------------------------------------------------------------------------------------------

  private seal(def: ResourceDefinition, given: unknown): Sealed | undefined {
    return sealSecret(def, given, this.gw.keys.masterKey);
  }

  async create(
    ctx: CallContext,
    def: ResourceDefinition,
    body: unknown,
    options: WriteOptions = {},
  ): Promise<PublicResource> {
    const { pathTenant } = options;
    await this.admit(ctx, def, 'write', { pathTenant, body });
    const parsed = parseBody(def, body, 'create');
    if (pathTenant !== undefined && parsed.tenant_id !== undefined && parsed.tenant_id !== pathTenant) {
      throw validationError([{ path: 'tenant_id', message: 'must match the tenant in the path' }]);
    }
    const tenantId = ownerOfNew(ctx, def, parsed, pathTenant);
    if (hasTenantField(def)) await this.scope.assertTenant(ctx, tenantId);
    if (def.scope === 'tenant-self') await this.scope.assertTenant(ctx, parsed.id as string, 'id');
    const fields = fieldsOf(def, parsed);
    // Before the role/tenant combination is checked: a caller asking for a role above its own is refused (403), not
    // told how to fix the request (400 "tenant_id must be null for the platform role").
    const granted = def.grant && fields[def.grant.field];
    if (def.grant && !grantableRoles(ctx.caller.role).includes(granted as AdminRole)) {
      const details = [{ path: def.grant.field, message: 'is above what the caller may grant' }];
      throw new ApiError(
        'FORBIDDEN',
        `The role "${ctx.caller.role}" may not create a ${def.kind} with the role "${granted}"`,
        details,
      );
    }
    checkState(def, { ...fields, tenant_id: tenantId });
    const id = (parsed.id as string | undefined) ?? newId(def);
    const sealed = this.seal(def, def.secret ? parsed[def.secret.field] : undefined);
    const data = { ...fields, ...def.computed.parse({}), ...noSecretYet(def), ...sealed?.data };
    const lookup = sealed?.lookup ?? def.unique?.(fields as never) ?? null;
    const record = { kind: def.kind, id, tenant_id: tenantId, data, secret: sealed?.secret, lookup };
    // nothing to check in the database: one statement, if it can be (see one-statement-writes.ts)
    const one = !options.tx && (await createInOneStatement(this.gw, ctx, def, record));
    if (one) return { ...toPublic(def, one), ...sealed?.shown };
    const out = await this.inTransaction(options.tx, async (t) => {
      await lockClaims(t, def);
      await assertIdFree(t, def, id, tenantId);
      if (tenantId !== null) await requireTenant(t, tenantId, pathTenant !== undefined);
      await assertReferencesExist(t, def, fields, tenantId);
      await assertClaimFree(t, def, tenantId, fields);
      const row = await uniqueValues(def, () => store.insertResource(t, record));
      if (!row) throw idTaken(def, id);
      if (def.versioned) await versions.recordVersion(t, row, 1, fields, actorOf(ctx.caller));
      await this.gw.audit.append(t, [resourceEvent(ctx, def, def.audit.created, row, diffFields({}, data))]);
      return toPublic(def, row);
    });
    return { ...out, ...sealed?.shown };
  }

  async update(
    ctx: CallContext,
    def: ResourceDefinition,
    target: Target,
    body: unknown,
    options: WriteOptions = {},
  ): Promise<PublicResource> {
    await this.admit(ctx, def, 'write', { pathTenant: target.owner, id: target.id, body });
    const parsed = parseBody(def, body, 'update');
    if (parsed.id !== undefined && parsed.id !== target.id) {
      throw validationError([{ path: 'id', message: 'cannot change; create a new resource instead' }]);
    }
    const fields = fieldsOf(def, parsed);
    // A write-only secret left out keeps the stored one; only a given value replaces it.
    const given = def.secret?.mode === 'encrypted' ? parsed[def.secret.field] : undefined;
    const sealed = given === undefined ? undefined : this.seal(def, given);
    if (!options.tx && changesInOneStatement(this.gw, def, fields)) {
      const row = await this.load(this.gw.db, ctx, def, target, true);
      checkUpdate(def, row, parsed, fields);
      const next = updateOf(ctx, def, row, fields, sealed);
      if (!next) return toPublic(def, row);
      const done = await changeInOneStatement(this.gw, def, row, next, sealed?.secret);
      if (done) return toPublic(def, done);
    }
    return this.inTransaction(options.tx, async (t) => {
      await lockClaims(t, def);
      const row = await this.load(t, ctx, def, target, true);
      checkUpdate(def, row, parsed, fields);
      await assertReferencesExist(t, def, fields, row.tenant_id);
      await assertClaimFree(t, def, row.tenant_id, fields, row.data);
      const next = updateOf(ctx, def, row, fields, sealed);
      if (!next) return toPublic(def, row);
      const updated = await this.write(t, ctx, def, row, next.data, sealed?.secret);
      await this.gw.audit.append(t, next.events);
      return toPublic(def, updated);
    });
  }

  async remove(
    ctx: CallContext,
    def: ResourceDefinition,
    target: Target,
    options: WriteOptions & { cascade?: boolean } = {},
  ): Promise<void> {
    await this.admit(ctx, def, 'write', { pathTenant: target.owner, id: target.id });
    const deleted = (row: store.StoredResource) =>
      resourceEvent(ctx, def, def.audit.deleted, row, diffFields(row.data, {}));
    if (!options.tx && deletesInOneStatement(this.gw, def)) {
      const row = await this.load(this.gw.db, ctx, def, target, true);
      if (await deleteInOneStatement(this.gw, row, [deleted(row)])) return;
    }
    await this.inTransaction(options.tx, async (t) => {
      const row = await this.load(t, ctx, def, target, true);
      const events = [];
      if (def.scope === 'tenant-self') events.push(...(await removeOwned(t, ctx, row.id, options.cascade === true)));
      else await assertUnreferenced(t, def, row, ctx.caller.tenantId);
      await store.deleteResource(t, row);
      if (def.versioned) await versions.deleteVersions(t, row);
      events.push(deleted(row));
      await this.gw.audit.append(t, events);
    });
  }

  async action(
    ctx: CallContext,
    def: ResourceDefinition,
    target: Target,
    name: string,
    body?: unknown,
  ): Promise<PublicResource> {
    const action = def.actions?.[name];
    if (!action) throw new ApiError('ROUTE_NOT_FOUND', `${def.title} has no action "${name}"`);
    await this.admit(ctx, def, 'write', { pathTenant: target.owner, id: target.id });
    let sealed: Sealed | undefined;
    if (action.takesSecret && def.secret) {
      const field = def.secret.field;
      const parsed = secretActionBody(field).safeParse(body ?? {});
      if (!parsed.success) throw validationError(issuesToDetails(parsed.error));
      sealed = this.seal(def, parsed.data[field]);
    }
    if (changesInOneStatement(this.gw, def, {})) {
      const row = await this.load(this.gw.db, ctx, def, target, true);
      const next = actionOf(ctx, def, row, name, action, sealed);
      const done = await changeInOneStatement(this.gw, def, row, next, sealed?.secret);
      if (done) return toPublic(def, done);
    }
    return this.inTransaction(undefined, async (t) => {
      const row = await this.load(t, ctx, def, target, true);
      const next = actionOf(ctx, def, row, name, action, sealed);
      const updated = await store.updateResource(t, row, { data: next.data, secret: sealed?.secret });
      await this.gw.audit.append(t, next.events);
      return toPublic(def, updated);
    });
  }

  /** Writes a new state; a versioned resource gets the next version number and a stored copy of its fields. */
  private async write(
    t: Tx,
    ctx: CallContext,
    def: ResourceDefinition,
    row: store.StoredResource,
    data: Record<string, unknown>,
    secret?: string,
  ) {
    await runWriteCheck(t, row, data);
    const lookup = def.unique ? def.unique(fieldsOf(def, data) as never) : undefined;
    if (!def.versioned) return uniqueValues(def, () => store.updateResource(t, row, { data, secret, lookup }));
    const version = Number(row.data.version ?? 1) + 1;
    const updated = await store.updateResource(t, row, { data: { ...data, version }, secret, bumpVersion: true });
    await versions.recordVersion(t, row, version, fieldsOf(def, data), actorOf(ctx.caller));
    return updated;
  }

  // ---- versions ------------------------------------------------------------------------------------------------

  /** The kept versions of a versioned resource, newest first. */
  async versions(ctx: CallContext, def: ResourceDefinition, target: Target) {
    const row = await this.loadParent(ctx, def, target, 'read');
    return { object: 'list' as const, data: await versions.listVersions(this.gw.db, row), next_cursor: null };
  }

  /** Makes a NEW version holding the configuration of version `n`. */
  async rollback(ctx: CallContext, def: ResourceDefinition, target: Target, body: unknown): Promise<PublicResource> {
    await this.admit(ctx, def, 'write', { pathTenant: target.owner, id: target.id });
    const parsed = rollbackBody.safeParse(body ?? {});
    if (!parsed.success) throw validationError(issuesToDetails(parsed.error));
    const wanted = parsed.data.version;
    return this.inTransaction(undefined, async (t) => {
      await lockClaims(t, def);
      const row = await this.load(t, ctx, def, target, true);
      const kept = await versions.getVersion(t, row, wanted);
      if (!kept) {
        const message = `${def.title} "${row.id}" has no version ${wanted} (the newest ${versions.KEPT_VERSIONS} versions are kept)`;
        throw new ApiError('NOT_FOUND', message, [{ path: 'version', message: 'is not a kept version' }]);
      }
      const restored = def.fields.parse(kept.config) as Record<string, unknown>;
      await assertClaimFree(t, def, row.tenant_id, restored, row.data);
      const data = { ...row.data, ...restored };
      const updated = await this.write(t, ctx, def, row, data);
      const changes = { ...diffFields(row.data, data), restored_version: { from: null, to: wanted } };
      await this.gw.audit.append(t, [resourceEvent(ctx, def, rolledBackEventType(def), updated, changes)]);
      return toPublic(def, updated);
    });
  }
}

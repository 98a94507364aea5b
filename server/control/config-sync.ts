import { ApiError, validationError } from '../errors';
import type { Gateway } from '../gateway';
import type { ResourceDefinition } from '../resources';
import { allResources, type StoredResource } from '../store/resource-store';
import type { Tx } from '../store/schema';
import { actorOf, type CallContext } from './caller';
import { CONFIG_VERSION, EXPORTED, PLANNED_KEYS, REDACTED, desiredKey, parseDocument, toItem, type Item } from './config-document';
import { allows } from './permissions';
import type { ResourceService } from './resource-service';

export interface ImportResult {
  mode: 'merge' | 'replace';
  dry_run: boolean;
  created: { kind: string; id: string }[];
  updated: { kind: string; id: string }[];
  deleted: { kind: string; id: string }[];
  unchanged: number;
}

/** One step of the diff; `at` is the item's path in the document (or its kind and id, for a delete). */
type Op = { op: 'create' | 'update' | 'delete'; def: ResourceDefinition; id: string; at: string; item?: Item; before?: StoredResource };

/** Thrown to roll a dry run back after it ran every check a real import runs. */
class DryRun extends Error {}

/**
 * Config export/import (seed 002) in decK's shape: file → desired state, database → current state, a pure diff, then
 * the diff applied in dependency order (creates and updates parents first, deletes children first) in ONE transaction.
 * A dry run is the same path rolled back at the end, so it catches what a real run would.
 */
export class ConfigSync {
  constructor(private readonly gw: Gateway, private readonly service: ResourceService) {}

  async export(ctx: CallContext, tenantId?: string): Promise<Record<string, unknown>> {
    const scope = await this.service.readScope(ctx, 'config', tenantId, 'export configuration');
    const warnings: string[] = [];
    const doc: Record<string, unknown> = { version: CONFIG_VERSION, exported_at: new Date().toISOString() };
    const lists = await Promise.all(EXPORTED.map((def) => allResources(this.gw.db, def.kind)));
    EXPORTED.forEach((def, i) => {
      let rows = lists[i]!;
      if (scope !== undefined) rows = rows.filter((r) => (def.scope === 'tenant-self' ? r.id === scope : r.tenant_id === scope));
      const items = rows.map((r) => toItem(def, r));
      items.forEach((item, n) => def.secret && item[def.secret.field] === REDACTED && warnings.push(`${def.exportKey}.${n}.${def.secret.field}: redacted to "${REDACTED}"; importing "${REDACTED}" keeps the stored secret`));
      doc[def.exportKey!] = items;
    });
    for (const key of PLANNED_KEYS) {
      doc[key] = [];
      warnings.push(`${key}: not managed by this gateway yet; exported as an empty list`);
    }
    warnings.push('api keys and admin tokens are not exported: their secrets exist only as hashes and cannot be re-created');
    if (scope !== undefined) warnings.push(`scoped to tenant "${scope}": global resources (tenant_id null) are left out`);
    doc.warnings = warnings;
    return doc;
  }

  async import(ctx: CallContext, doc: unknown, mode: 'merge' | 'replace', dryRun: boolean): Promise<ImportResult> {
    if (!allows(ctx.caller.role, 'config', 'write')) throw new ApiError('FORBIDDEN', `The role "${ctx.caller.role}" may not import configuration`);
    const { parsed, details } = parseDocument(doc);
    if (!parsed) throw validationError(details, 'The config document is not valid; nothing was written');
    let result: ImportResult | undefined;
    try {
      await this.gw.db.transaction().execute(async (tx) => {
        const ops = await this.plan(tx, parsed.items, mode);
        result = {
          mode,
          dry_run: dryRun,
          created: ops.creates.map(({ def, id }) => ({ kind: def.kind, id })),
          updated: ops.updates.map(({ def, id }) => ({ kind: def.kind, id })),
          deleted: ops.deletes.map(({ def, id }) => ({ kind: def.kind, id })),
          unchanged: ops.unchanged,
        };
        for (const op of [...ops.creates, ...ops.updates, ...ops.deletes]) await this.apply(tx, ctx, op);
        if (dryRun) throw new DryRun();
        const counts = { created: result.created.length, updated: result.updated.length, deleted: result.deleted.length, unchanged: result.unchanged };
        await this.gw.audit.append(tx, [
          { type: 'CONFIG_IMPORTED', actor: actorOf(ctx.caller), tenant_id: null, resource: null, changes: { mode, ...counts, changes: { created: result.created, updated: result.updated, deleted: result.deleted } }, trace_id: ctx.traceId },
        ]);
      });
    } catch (err) {
      if (!(err instanceof DryRun)) throw err;
    }
    return result!;
  }

  /** The diff between the document and the database. */
  private async plan(tx: Tx, items: Map<ResourceDefinition, Item[]>, mode: 'merge' | 'replace') {
    const creates: Op[] = [];
    const updates: Op[] = [];
    const deletes: Op[] = [];
    let unchanged = 0;
    for (const def of EXPORTED) {
      const current = new Map((await allResources(tx, def.kind)).map((r) => [r.id, r]));
      const wanted = items.get(def) ?? [];
      wanted.forEach((item, i) => {
        const before = current.get(item.id);
        const at = `${def.exportKey}.${i}`;
        if (!before) return creates.push({ op: 'create', def, id: item.id, at, item });
        if ('tenant_id' in item && item.tenant_id !== before.tenant_id) {
          throw validationError([{ path: `${def.exportKey}.${i}.tenant_id`, message: `cannot move "${item.id}" from tenant ${JSON.stringify(before.tenant_id)}; delete it first` }]);
        }
        const rotates = def.secret !== undefined && item[def.secret.field] !== undefined;
        if (rotates || desiredKey(def, item) !== desiredKey(def, toItem(def, before))) updates.push({ op: 'update', def, id: item.id, at, item, before });
        else unchanged++;
      });
      if (mode === 'replace') {
        const keep = new Set(wanted.map((w) => w.id));
        for (const [id, before] of current) if (!keep.has(id)) deletes.push({ op: 'delete', def, id, at: `${def.exportKey}[${id}]`, before });
      }
    }
    const doomed = new Set(deletes.filter((d) => d.def.scope === 'tenant-self').map((d) => d.id));
    for (const op of [...creates, ...updates]) {
      if (typeof op.item?.tenant_id === 'string' && doomed.has(op.item.tenant_id)) {
        throw validationError([{ path: `${op.at}.tenant_id`, message: `tenant "${op.item.tenant_id}" is not in the document, so replace would delete it` }]);
      }
    }
    deletes.reverse(); // children before their parents
    return { creates, updates, deletes, unchanged };
  }

  private async apply(tx: Tx, ctx: CallContext, op: Op): Promise<void> {
    try {
      if (op.op === 'create') await this.service.create(ctx, op.def, op.item, undefined, tx);
      else if (op.op === 'update') await this.service.update(ctx, op.def, op.id, op.item, undefined, tx);
      else await this.service.remove(ctx, op.def, op.id, { cascade: true }, undefined, tx);
    } catch (err) {
      if (err instanceof ApiError && err.status < 500) {
        const details = err.details.length ? err.details : [{ path: '', message: err.message }];
        throw new ApiError(err.code, `${op.op} ${op.def.kind} "${op.id}" failed: ${err.message}; nothing was written`, details.map((d) => ({ path: d.path ? `${op.at}.${d.path}` : op.at, message: d.message })));
      }
      throw err;
    }
  }
}

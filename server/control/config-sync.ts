import { ApiError, validationError } from '../errors';
import type { Gateway } from '../gateway';
import { RESOURCES, type ResourceDefinition } from '../resources';
import { allResources, ownerOf, resolveInTenant, type StoredResource } from '../store/resource-store';
import type { Tx } from '../store/schema';
import { actorOf, type CallContext } from './caller';
import {
  CONFIG_VERSION,
  EXPORTED,
  PLANNED_KEYS,
  REDACTED,
  desiredKey,
  exportWarnings,
  parseDocument,
  toItem,
  unexportedReferences,
  type Item,
  type ParsedDocument,
} from './config-document';
import { lockClaims } from './path-claims';
import { allows } from './permissions';
import type { ResourceService } from './resource-service';

export interface ImportResult {
  mode: 'merge' | 'replace';
  dry_run: boolean;
  created: { kind: string; id: string }[];
  updated: { kind: string; id: string }[];
  deleted: { kind: string; id: string }[];
  unchanged: number;
  /** Entries left out, each explained in `warnings` (a budget naming an API key this gateway does not have). */
  skipped: { kind: string; id: string }[];
  warnings: string[];
  /** Secrets made for new resources imported with "***" (real runs only): shown here once, like at creation. */
  generated_secrets: { kind: string; id: string; field: string; value: string }[];
}

/** One step of the diff; `at` is the item's path in the document (or its kind and id, for a delete). */
type Op = {
  op: 'create' | 'update' | 'delete';
  def: ResourceDefinition;
  id: string;
  /** The tenant that owns the resource (ids are unique per owner); undefined for a global one. */
  owner?: string;
  at: string;
  item?: Item;
  before?: StoredResource;
  /** A create given "***": the server makes the secret (see redactedOnCreate). */
  makesSecret?: boolean;
};

/** Thrown to roll a dry run back after it ran every check a real import runs. */
class DryRun extends Error {}

/**
 * Config export/import (seed 002) in decK's shape: file → desired state, database → current state, a pure diff, then
 * the diff applied in dependency order (creates and updates parents first, deletes children first) in ONE transaction.
 * A dry run is the same path rolled back at the end, so it catches what a real run would.
 */
export class ConfigSync {
  constructor(
    private readonly gw: Gateway,
    private readonly service: ResourceService,
  ) {}

  async export(ctx: CallContext, tenantId?: string): Promise<Record<string, unknown>> {
    const scope = await this.service.scope.readScope(ctx, 'config', tenantId, 'export configuration');
    const warnings: string[] = [];
    const doc: Record<string, unknown> = { version: CONFIG_VERSION, exported_at: new Date().toISOString() };
    const lists = await Promise.all(EXPORTED.map((def) => allResources(this.gw.db, def.kind)));
    EXPORTED.forEach((def, i) => {
      let rows = lists[i]!;
      if (scope !== undefined)
        rows = rows.filter((r) => (def.scope === 'tenant-self' ? r.id === scope : r.tenant_id === scope));
      const items = rows.map((r) => toItem(def, r));
      items.forEach((item, n) => warnings.push(...exportWarnings(def, item, `${def.exportKey}.${n}`)));
      doc[def.exportKey!] = items;
    });
    for (const key of PLANNED_KEYS) {
      doc[key] = [];
      warnings.push(`${key}: not managed by this gateway yet; exported as an empty list`);
    }
    for (const def of RESOURCES)
      if (def.notExported) warnings.push(`${def.plural} are not exported: ${def.notExported}`);
    if (scope !== undefined)
      warnings.push(`scoped to tenant "${scope}": global resources (tenant_id null) are left out`);
    doc.warnings = warnings;
    return doc;
  }

  async import(ctx: CallContext, doc: unknown, mode: 'merge' | 'replace', dryRun: boolean): Promise<ImportResult> {
    if (!allows(ctx.caller.role, 'config', 'write'))
      throw new ApiError('FORBIDDEN', `The role "${ctx.caller.role}" may not import configuration`);
    const { parsed, details } = parseDocument(doc);
    if (!parsed) throw validationError(details, 'The config document is not valid; nothing was written');
    let result: ImportResult | undefined;
    try {
      await this.gw.db.transaction().execute(async (tx) => {
        // Claim locks first, as every route write takes them, so the import and a concurrent write never deadlock.
        for (const def of EXPORTED) await lockClaims(tx, def);
        const ops = await this.plan(tx, ctx, parsed, mode, dryRun);
        const refs = (list: Op[]) => list.map(({ def, id }) => ({ kind: def.kind, id }));
        result = {
          mode,
          dry_run: dryRun,
          created: refs(ops.creates),
          updated: refs(ops.updates),
          deleted: refs(ops.deletes),
          unchanged: ops.unchanged,
          skipped: refs(ops.skipped),
          warnings: ops.warnings,
          generated_secrets: [],
        };
        for (const op of [...ops.creates, ...ops.updates, ...ops.deletes]) {
          const made = await this.apply(tx, ctx, op);
          if (made && !dryRun) result.generated_secrets.push(made); // a dry run's secret is rolled back with it
        }
        if (dryRun) throw new DryRun();
        const { created, updated, deleted, skipped, unchanged } = result;
        const counts = {
          created: created.length,
          updated: updated.length,
          deleted: deleted.length,
          unchanged,
          skipped: skipped.length,
        };
        await this.gw.audit.append(tx, [
          {
            type: 'CONFIG_IMPORTED',
            actor: actorOf(ctx.caller),
            tenant_id: null,
            resource: null,
            changes: { mode, ...counts, changes: { created, updated, deleted, skipped } },
            trace_id: ctx.traceId,
          },
        ]);
      });
    } catch (err) {
      if (!(err instanceof DryRun)) throw err;
    }
    return result!;
  }

  /** The diff between the document and the database. */
  private async plan(tx: Tx, ctx: CallContext, doc: ParsedDocument, mode: 'merge' | 'replace', dryRun: boolean) {
    const creates: Op[] = [];
    const updates: Op[] = [];
    const deletes: Op[] = [];
    const skipped: Op[] = [];
    const warnings: string[] = [];
    let unchanged = 0;
    for (const def of EXPORTED) {
      // Ids are unique per owner: an item is the resource of its tenant (or global) with its id.
      const keyOf = (id: string, tenantId: string | null) => `${ownerOf(tenantId)} ${id}`;
      const current = new Map((await allResources(tx, def.kind)).map((r) => [keyOf(r.id, r.tenant_id), r]));
      const wanted = doc.items.get(def) ?? [];
      const wantedKeys = new Set<string>();
      for (const [i, item] of wanted.entries()) {
        const tenantId = itemTenant(def, item, ctx);
        const owner = tenantId ?? undefined;
        wantedKeys.add(keyOf(item.id, tenantId));
        const before = current.get(keyOf(item.id, tenantId));
        const at = `${def.exportKey}.${i}`;
        if (!before) {
          const op: Op = { op: 'create', def, id: item.id, owner, at, item };
          const missing = await this.missingUnexported(tx, def, item);
          if (missing) {
            skipped.push(op);
            const named = `${missing.kind} "${item[missing.field]}"`;
            warnings.push(
              `${at}.${missing.field}: no ${named} exists here (it is not exported); ${def.kind} "${item.id}" was skipped`,
            );
            continue;
          }
          if (doc.redacted.has(item)) op.makesSecret = this.redactedOnCreate(def, op, dryRun, warnings);
          creates.push(op);
          continue;
        }
        const rotates = def.secret !== undefined && item[def.secret.field] !== undefined;
        const changed = rotates || desiredKey(def, item) !== desiredKey(def, toItem(def, before));
        if (changed) updates.push({ op: 'update', def, id: item.id, owner, at, item, before });
        else unchanged++;
      }
      if (mode === 'replace') {
        for (const [key, before] of current) {
          if (wantedKeys.has(key)) continue;
          const { id } = before;
          deletes.push({
            op: 'delete',
            def,
            id,
            owner: before.tenant_id ?? undefined,
            at: `${def.exportKey}[${id}]`,
            before,
          });
        }
      }
    }
    const doomed = new Set(deletes.filter((d) => d.def.scope === 'tenant-self').map((d) => d.id));
    for (const op of [...creates, ...updates]) {
      if (typeof op.item?.tenant_id === 'string' && doomed.has(op.item.tenant_id)) {
        throw validationError([
          {
            path: `${op.at}.tenant_id`,
            message: `tenant "${op.item.tenant_id}" is not in the document, so replace would delete it`,
          },
        ]);
      }
    }
    deletes.reverse(); // children before their parents
    return { creates, updates, deletes, unchanged, skipped, warnings };
  }

  /** The first field naming a kind the document does not carry whose resource is not here (same tenant or global). */
  private async missingUnexported(
    tx: Tx,
    def: ResourceDefinition,
    item: Item,
  ): Promise<{ field: string; kind: string } | void> {
    for (const [field, kind] of unexportedReferences(def)) {
      const id = item[field];
      if (typeof id !== 'string') continue;
      if (!(await resolveInTenant(tx, kind, id, (item.tenant_id as string | null | undefined) ?? null)))
        return { field, kind };
    }
    return undefined;
  }

  /**
   * A new resource imported with "***" has no stored secret to keep. A kind that makes its own secret gets a new one,
   * returned once in `generated_secrets`; any other kind is a 400 at the field, since nobody could know its secret.
   */
  private redactedOnCreate(def: ResourceDefinition, op: Op, dryRun: boolean, warnings: string[]): boolean {
    const rule = def.secret!;
    const at = `${op.at}.${rule.field}`;
    if (rule.mode !== 'encrypted' || !rule.generatePrefix) {
      const message = `is "${REDACTED}", but ${def.kind} "${op.id}" does not exist here to keep a secret from; give the secret`;
      throw validationError([{ path: at, message }]);
    }
    const outcome = dryRun
      ? 'a real import generates a new one and returns it once'
      : 'a new one was generated: see generated_secrets';
    warnings.push(`${at}: "${REDACTED}" but ${def.kind} "${op.id}" is new here; ${outcome}`);
    return true;
  }

  /** Applies one step; for a create that generated a secret, returns it (it is shown only here). */
  private async apply(
    tx: Tx,
    ctx: CallContext,
    op: Op,
  ): Promise<ImportResult['generated_secrets'][number] | undefined> {
    try {
      if (op.op === 'create') {
        const created = await this.service.create(ctx, op.def, op.item, { tx });
        const field = op.def.secret?.field;
        const value = field && op.makesSecret ? created[field] : undefined;
        if (typeof value === 'string') return { kind: op.def.kind, id: op.id, field: field!, value };
      } else if (op.op === 'update')
        await this.service.update(ctx, op.def, { id: op.id, owner: op.owner }, op.item, { tx });
      else await this.service.remove(ctx, op.def, { id: op.id, owner: op.owner }, { cascade: true, tx });
      return undefined;
    } catch (err) {
      if (err instanceof ApiError && err.status < 500) {
        const details = err.details.length ? err.details : [{ path: '', message: err.message }];
        throw new ApiError(
          err.code,
          `${op.op} ${op.def.kind} "${op.id}" failed: ${err.message}; nothing was written`,
          details.map((d) => ({ path: d.path ? `${op.at}.${d.path}` : op.at, message: d.message })),
        );
      }
      throw err;
    }
  }
}

/** The tenant an imported item belongs to: its `tenant_id`, or (left out) the importing caller's, as a create does. */
function itemTenant(def: ResourceDefinition, item: Item, ctx: CallContext): string | null {
  if (def.scope === 'tenant-self' || def.scope === 'platform') return null;
  return item.tenant_id === undefined ? ctx.caller.tenantId : ((item.tenant_id as string | null) ?? null);
}

import { createHash } from 'node:crypto';
import { ApiError, validationError } from '../errors';
import { canonicalJson } from '../lib/canonical-json';
import type { Gateway } from '../gateway';
import { RESOURCES, type ResourceDefinition } from '../resources';
import { allResources, resolveInTenant } from '../store/resource-store';
import type { Tx } from '../store/schema';
import { actorOf, type CallContext } from './caller';
import {
  CONFIG_VERSION,
  EXPORTED,
  REDACTED,
  exportWarnings,
  parseDocument,
  toItem,
  unexportedReferences,
  type Item,
  type ParsedDocument,
} from './config-document';
import { bulkCreatable, createInBulk, failedStep } from './config-bulk-create';
import { diff, inScope, type Change, type Step } from './config-diff';
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
  /** Dry runs: every change, field by field, in apply order (secrets as "***"). */
  changes?: Change[];
  /** Real runs: the id of the CONFIG_IMPORTED audit event. */
  audit_event_id?: string;
  /** SHA-256 of the mode, scope and planned changes: a real run given it applies only that very plan. */
  content_hash: string;
}

/** One step to apply; a create given "***" may have the server make its secret (see redactedOnCreate). */
type Op = Step & { makesSecret?: boolean };

/** Thrown to roll a dry run back after it ran every check a real import runs. */
class DryRun extends Error {}

/**
 * Config export/import (seed 002) in decK's shape: file → desired state, database → current state, a pure diff
 * (config-diff.ts), then the diff applied in dependency order in ONE transaction. A dry run is the same path rolled
 * back at the end, so it catches what a real run would.
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
    // a scoped document says so, and an import of it in replace mode deletes only inside that tenant
    if (scope !== undefined) doc.tenant_id = scope;
    const lists = await Promise.all(EXPORTED.map((def) => allResources(this.gw.db, def.kind)));
    EXPORTED.forEach((def, i) => {
      let items = lists[i]!.map((r) => toItem(def, r));
      if (scope !== undefined) items = items.filter((item) => inScope(def, item, scope));
      items.forEach((item, n) => warnings.push(...exportWarnings(def, item, `${def.exportKey}.${n}`)));
      doc[def.exportKey!] = items;
    });
    for (const def of RESOURCES)
      if (def.notExported) warnings.push(`${def.plural} are not exported: ${def.notExported}`);
    if (scope !== undefined)
      warnings.push(`scoped to tenant "${scope}": global resources (tenant_id null) are left out`);
    doc.warnings = warnings;
    return doc;
  }

  /** `tenantId` (the query's) or the document's own `tenant_id` scopes the import to one tenant. */
  async import(
    ctx: CallContext,
    doc: unknown,
    mode: 'merge' | 'replace',
    dryRun: boolean,
    tenantId?: string,
    expectedHash?: string,
  ): Promise<ImportResult> {
    const { parsed, details } = parseDocument(doc);
    const named = parsed?.tenantId ?? tenantId;
    if (parsed?.tenantId !== undefined && tenantId !== undefined && parsed.tenantId !== tenantId)
      details.push({ path: 'tenant_id', message: `is "${parsed.tenantId}", but the request names "${tenantId}"` });
    const scope = await this.service.scope.readScope(ctx, 'config', named, 'import configuration');
    if (!allows(ctx.caller.role, 'config', 'write'))
      throw new ApiError('FORBIDDEN', `The role "${ctx.caller.role}" may not import configuration`);
    if (!parsed || details.length)
      throw validationError(details, 'The config document is not valid; nothing was written');
    let result: ImportResult | undefined;
    try {
      await this.gw.db.transaction().execute(async (tx) => {
        // Claim locks first, as every route write takes them, so the import and a concurrent write never deadlock.
        for (const def of EXPORTED) await lockClaims(tx, def);
        const ops = await this.plan(tx, parsed, mode, scope, dryRun);
        const contentHash = planHash(mode, scope, ops.steps);
        if (expectedHash !== undefined && expectedHash !== contentHash)
          throw new ApiError(
            'CONFLICT',
            'The document or the configuration changed since the preview; nothing was written',
            [{ path: 'content_hash', message: 'does not match this import: preview it again' }],
          );
        const refs = (list: Op[]) => list.map(({ kind, id }) => ({ kind, id }));
        const of = (op: Op['op']) => refs(ops.steps.filter((s) => s.op === op));
        result = {
          mode,
          dry_run: dryRun,
          created: of('create'),
          updated: of('update'),
          deleted: of('delete'),
          unchanged: ops.unchanged,
          skipped: refs(ops.skipped),
          warnings: ops.warnings,
          generated_secrets: [],
          content_hash: contentHash,
        };
        if (dryRun)
          result.changes = ops.steps.map(({ op, kind, id, tenant_id, changes }) => ({
            op,
            kind,
            id,
            tenant_id,
            changes,
          }));
        for (const run of runs(ops.steps)) {
          if (run.length > 1) await createInBulk(tx, this.gw, this.service.scope, ctx, run[0]!.def, run);
          else {
            const made = await this.apply(tx, ctx, run[0]!);
            if (made && !dryRun) result.generated_secrets.push(made); // a dry run's secret is rolled back with it
          }
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
        const [event] = await this.gw.audit.append(tx, [
          {
            type: 'CONFIG_IMPORTED',
            actor: actorOf(ctx.caller),
            tenant_id: scope ?? null,
            resource: null,
            changes: { mode, ...counts, changes: { created, updated, deleted, skipped } },
            trace_id: ctx.traceId,
          },
        ]);
        result.audit_event_id = event!.id;
      });
    } catch (err) {
      if (!(err instanceof DryRun)) throw err;
    }
    return result!;
  }

  /** The diff between the document and the database, with the entries that cannot be written here set aside. */
  private async plan(
    tx: Tx,
    doc: ParsedDocument,
    mode: 'merge' | 'replace',
    scope: string | undefined,
    dryRun: boolean,
  ) {
    const rows = await Promise.all(EXPORTED.map((def) => allResources(tx, def.kind)));
    const current = new Map(EXPORTED.map((def, i) => [def, rows[i]!.map((r) => toItem(def, r))]));
    const { steps, unchanged, problems } = diff(doc.items, current, { mode, scope, redacted: doc.redacted });
    if (problems.length) throw validationError(problems, 'The config document cannot be applied; nothing was written');
    const kept: Op[] = [];
    const skipped: Op[] = [];
    const warnings: string[] = [];
    for (const step of steps) {
      if (step.op !== 'create') {
        kept.push(step);
        continue;
      }
      const missing = await this.missingUnexported(tx, step.def, step.item!);
      if (missing) {
        skipped.push(step);
        const named = `${missing.kind} "${step.item![missing.field]}"`;
        warnings.push(
          `${step.at}.${missing.field}: no ${named} exists here (it is not exported); ${step.kind} "${step.id}" was skipped`,
        );
        continue;
      }
      const op: Op = step;
      if (doc.redacted.has(step.item!)) op.makesSecret = this.redactedOnCreate(op, dryRun, warnings);
      kept.push(op);
    }
    return { steps: kept, unchanged, skipped, warnings };
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
  private redactedOnCreate(op: Op, dryRun: boolean, warnings: string[]): boolean {
    const { def } = op;
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
        return undefined;
      }
      const key = { id: op.id, owner: op.tenant_id ?? undefined };
      if (op.op === 'update') await this.service.update(ctx, op.def, key, op.item, { tx });
      else await this.service.remove(ctx, op.def, key, { cascade: true, tx });
      return undefined;
    } catch (err) {
      throw failedStep(op, err);
    }
  }
}

/**
 * What a preview showed, as a hash: the mode, the scope and every planned change field by field (secrets as "***").
 * A changed document and a configuration changed by someone else since the preview both change it.
 */
function planHash(mode: string, scope: string | undefined, steps: Op[]): string {
  const changes = steps.map(({ op, kind, id, tenant_id, changes }) => ({ op, kind, id, tenant_id, changes }));
  return createHash('sha256')
    .update(canonicalJson({ mode, scope: scope ?? null, changes }))
    .digest('hex');
}

/**
 * The steps in order, consecutive creates of one kind that can be made in bulk grouped into one run (one load of what
 * their checks read, one INSERT per 1,000 rows, one audit append); every other step a run of its own.
 */
function runs(steps: Op[]): Op[][] {
  const out: Op[][] = [];
  const bulk = (op: Op) => op.op === 'create' && !op.makesSecret && bulkCreatable(op.def);
  for (const op of steps) {
    const last = out[out.length - 1];
    if (last && bulk(op) && bulk(last[0]!) && last[0]!.def === op.def) last.push(op);
    else out.push([op]);
  }
  return out;
}

import { z } from 'zod';
import { ApiError, validationError } from '../errors';
import type { Gateway } from '../gateway';
import { diffFields } from '../lib/diff';
import { issuesToDetails } from '../http/zod-errors';
import type { ResourceDefinition } from '../resources/define';
import { hasTenantField } from '../resources/schemas';
import { insertResources } from '../store/resource-batches';
import type { StoredResource } from '../store/resource-store';
import type { CallContext } from './caller';
import type { CallerScope } from './caller-scope';
import { assertReferencesExist } from './referrers';
import { newId } from './resource-ids';
import { resourceEvent } from './resource-events';
import { checkState, fieldsOf, ownerOfNew, parseBody } from './resource-input';
import { toPublic, type PublicResource } from './resource-list';
import { requireTenant } from './resource-lookup';
import { sealSecret } from './secret-seal';

/**
 * Many resources of a kind whose secret the gateway generates (API keys) made by one call from one body: onboarding
 * a platform's tenants hands out keys by the hundred. Each is what a single create makes (same checks, same audit
 * event, a plaintext shown once), all in one transaction: one multi-row INSERT and one audit append.
 */

/** At most this many per call: one answer's worth of plaintexts, one transaction's worth of rows. */
export const MAX_BULK = 1000;

/** Kinds a bulk create serves: a generated secret, and nothing a single create checks row by row (roles, paths). */
export const servesBulkSecrets = (def: ResourceDefinition): boolean =>
  def.secret?.mode === 'generated' && !def.grant && !def.claims && !def.versioned && !def.unique;

const countSchema = z.strictObject({
  count: z.number().int().min(1).max(MAX_BULK).describe(`How many to create, 1 to ${MAX_BULK}.`),
});

/** The request body: the kind's create body, and how many. */
export const bulkBody = (create: z.ZodObject<z.ZodRawShape>) => create.extend(countSchema.shape);

export interface BulkAnswer {
  object: 'list';
  data: PublicResource[];
}

/**
 * Creates `count` resources from `body` under the path's tenant. The caller's scope and role are checked as a single
 * create checks them (a foreign tenant is refused the same way), so nothing here is a new permission.
 */
export async function createWithSecrets(
  gw: Gateway,
  scope: CallerScope,
  ctx: CallContext,
  def: ResourceDefinition,
  body: unknown,
  pathTenant: string,
): Promise<BulkAnswer> {
  await scope.checkNamedTenants(ctx, def, { pathTenant, body });
  scope.authorize(ctx, def, 'write');
  const { count, rest } = splitCount(body);
  const parsed = parseBody(def, rest, 'create');
  if (parsed.tenant_id !== undefined && parsed.tenant_id !== pathTenant)
    throw validationError([{ path: 'tenant_id', message: 'must match the tenant in the path' }]);
  const tenantId = ownerOfNew(ctx, def, parsed, pathTenant);
  if (hasTenantField(def)) await scope.assertTenant(ctx, tenantId);
  const fields = fieldsOf(def, parsed);
  checkState(def, { ...fields, tenant_id: tenantId });

  const now = new Date().toISOString();
  const computed = def.computed.parse({}) as Record<string, unknown>;
  const made = Array.from({ length: count }, () => {
    const sealed = sealSecret(def, undefined, gw.keys.masterKey)!;
    const data = { ...fields, ...computed, ...sealed.data };
    const row = { kind: def.kind, id: newId(def), tenant_id: tenantId, data, secret: sealed.secret };
    return { row: { ...row, lookup: sealed.lookup, created_at: now }, shown: sealed.shown };
  });

  await gw.db.transaction().execute(async (t) => {
    if (tenantId !== null) await requireTenant(t, tenantId, true);
    await assertReferencesExist(t, def, fields, tenantId);
    const stored = await insertResources(
      t,
      made.map((m) => m.row),
    );
    // ids are 96 random bits and lookups hashes of fresh secrets: a clash is a broken random source, not a request
    if (stored.length !== count) throw new Error(`bulk create stored ${stored.length} of ${count}`);
    const events = made.map(({ row }) =>
      resourceEvent(ctx, def, def.audit.created, stored_(row), diffFields({}, row.data)),
    );
    await gw.audit.append(t, events);
  });
  return { object: 'list', data: made.map(({ row, shown }) => ({ ...toPublic(def, stored_(row)), ...shown })) };
}

/** A row just inserted as the store would read it back. */
const stored_ = (row: Omit<StoredResource, 'version' | 'updated_at'>): StoredResource => ({
  ...row,
  version: 1,
  updated_at: row.created_at,
});

/** `count` apart from the kind's own fields: 400 with the field when it is missing, not a whole number, or too many. */
function splitCount(body: unknown): { count: number; rest: Record<string, unknown> } {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new ApiError('VALIDATION_FAILED', 'The request body must be a JSON object', [
      { path: '', message: 'must be an object' },
    ]);
  const { count, ...rest } = body as Record<string, unknown>;
  const checked = countSchema.safeParse({ count });
  if (!checked.success) throw validationError(issuesToDetails(checked.error));
  return { count: checked.data.count, rest };
}

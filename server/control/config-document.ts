import { issuesToDetails } from '../http/zod-errors';
import { CREATION_ORDER, resourceByKind, type ResourceDefinition } from '../resources';
import { hasTenantField, schemasFor } from '../resources/schemas';
import type { StoredResource } from '../store/resource-store';
import type { ErrorDetail } from '../errors';

/** The export document's version. */
export const CONFIG_VERSION = 1;
export const REDACTED = '***';

/** Resources that travel in the document, parents first. */
export const EXPORTED = CREATION_ORDER.filter((r) => r.exportKey);

export type Item = Record<string, unknown> & { id: string };

/** A resource's desired state as the document carries it: id, tenant, fields, and "***" for a secret that is set. */
export function toItem(def: ResourceDefinition, row: StoredResource): Item {
  const item: Item = { id: row.id };
  if (hasTenantField(def)) item.tenant_id = row.tenant_id;
  for (const key of Object.keys(def.fields.shape)) item[key] = row.data[key];
  if (def.secret?.mode === 'encrypted' && !def.secret.hashed && row.secret) item[def.secret.field] = REDACTED;
  return item;
}

/**
 * Fields naming a kind the document does not carry (a budget's `api_key_id`: keys are never exported). An import
 * where the named resource does not exist skips the entry with a warning rather than failing the whole document.
 */
export function unexportedReferences(def: ResourceDefinition): [field: string, kind: string][] {
  return Object.entries(def.references ?? {}).filter(([, kind]) => !resourceByKind(kind)?.exportKey);
}

/** What the export says about an item it cannot promise will import elsewhere. */
export function exportWarnings(def: ResourceDefinition, item: Item, at: string): string[] {
  const warnings: string[] = [];
  if (def.secret && item[def.secret.field] === REDACTED) {
    warnings.push(
      `${at}.${def.secret.field}: redacted to "${REDACTED}"; importing "${REDACTED}" keeps the stored secret` +
        (def.secret.mode === 'encrypted' && def.secret.generatePrefix
          ? ', and where none is stored a new one is generated and returned once in the import response'
          : ''),
    );
  }
  for (const [field, kind] of unexportedReferences(def)) {
    if (typeof item[field] === 'string') {
      const named = `${kind} "${item[field]}"`;
      warnings.push(
        `${at}.${field}: names ${named}, which is not exported; an import where it does not exist skips this entry`,
      );
    }
  }
  return warnings;
}

export interface ParsedDocument {
  /** exportKey → validated items, defaults filled in, "***" secrets removed. */
  items: Map<ResourceDefinition, Item[]>;
  /** The items that carried "***": keep the stored secret (or, for a new resource, there is none to keep). */
  redacted: Set<Item>;
  /** A tenant-scoped document (a scoped export) names its tenant. */
  tenantId?: string;
}

/**
 * Validates a whole document before anything is written. Each problem is reported at its path in the document
 * (`routes.3.providers.0.provider`), in document order, so the first detail names the first invalid entry.
 */
export function parseDocument(doc: unknown): { parsed?: ParsedDocument; details: ErrorDetail[] } {
  const details: ErrorDetail[] = [];
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    return { details: [{ path: '', message: 'the body must be a config document (a JSON object)' }] };
  const d = doc as Record<string, unknown>;
  if (d.version !== undefined && d.version !== CONFIG_VERSION)
    details.push({ path: 'version', message: `must be ${CONFIG_VERSION}` });
  if (d.tenant_id !== undefined && (typeof d.tenant_id !== 'string' || !d.tenant_id))
    details.push({ path: 'tenant_id', message: 'must be a tenant id (the scope of the document)' });
  const known = new Set(['version', 'exported_at', 'warnings', 'tenant_id', ...EXPORTED.map((r) => r.exportKey!)]);
  for (const key of Object.keys(d)) if (!known.has(key)) details.push({ path: key, message: 'is not a known section' });
  const items = new Map<ResourceDefinition, Item[]>();
  const redacted = new Set<Item>();
  for (const def of EXPORTED) {
    const key = def.exportKey!;
    const list = d[key] ?? [];
    if (!Array.isArray(list)) {
      details.push({ path: key, message: 'must be a list' });
      continue;
    }
    const seen = new Set<string>();
    const parsedItems: Item[] = [];
    list.forEach((raw, i) => {
      const at = `${key}.${i}`;
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
        return details.push({ path: at, message: 'must be an object' });
      const entry = { ...(raw as Record<string, unknown>) };
      const keepSecret = def.secret && entry[def.secret.field] === REDACTED;
      if (keepSecret) delete entry[def.secret!.field];
      for (const f of schemasFor(def).readOnly) delete entry[f];
      if (typeof entry.id !== 'string')
        return details.push({ path: `${at}.id`, message: 'is required (items are matched by id)' });
      // Ids are unique per owner: two tenants' items may share one.
      const ownedId = `${typeof entry.tenant_id === 'string' ? entry.tenant_id : ''} ${entry.id}`;
      if (seen.has(ownedId)) return details.push({ path: `${at}.id`, message: `"${entry.id}" appears twice` });
      seen.add(ownedId);
      const create = schemasFor(def).create;
      const schema = keepSecret ? create.partial({ [def.secret!.field]: true } as never) : create;
      const result = schema.safeParse(entry);
      if (!result.success) return details.push(...issuesToDetails(result.error, at));
      const value = result.data as Item;
      const problems = def.check?.(value as never) ?? [];
      if (problems.length)
        return details.push(...problems.map((p) => ({ path: `${at}.${p.path}`, message: p.message })));
      const item: Item = { id: value.id };
      if (hasTenantField(def)) item.tenant_id = value.tenant_id ?? null;
      for (const f of Object.keys(def.fields.shape)) item[f] = value[f];
      if (def.secret && value[def.secret.field] !== undefined) item[def.secret.field] = value[def.secret.field];
      if (keepSecret) redacted.add(item);
      parsedItems.push(item);
    });
    items.set(def, parsedItems);
  }
  if (details.length) return { details };
  const tenantId = typeof d.tenant_id === 'string' ? d.tenant_id : undefined;
  return { parsed: { items, redacted, ...(tenantId ? { tenantId } : {}) }, details };
}

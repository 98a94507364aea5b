import { diff, type Step } from '../server/control/config-diff';
import { EXPORTED, parseDocument, type Item } from '../server/control/config-document';
import { resourceByKind, type ResourceDefinition } from '../server/resources';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

const def = (kind: string) => resourceByKind(kind)!;
/** A document's sections as the diff takes them, validated and defaulted as the import does. */
function desired(doc: Record<string, unknown>) {
  const { parsed, details } = parseDocument(doc);
  if (!parsed) throw new Error(JSON.stringify(details));
  return parsed;
}
/** The current state: the same shape, as the export's items (a stored secret is "***"). */
const current = (doc: Record<string, unknown>) => desired(doc).items;
const brief = (steps: Step[]) => steps.map((s) => `${s.op} ${s.kind} ${s.tenant_id ?? '-'}/${s.id}`);

const acme = { id: 'acme', name: 'Acme' };
const beta = { id: 'beta', name: 'Beta' };
const route = (id: string, tenant_id: string | null, extra: object = {}) => ({
  id,
  tenant_id,
  path_prefix: `/${id}`,
  backend_url: 'https://b.example.com',
  ...extra,
});

describe('diff (pure)', () => {
  test('equal states: no steps, every item unchanged', () => {
    const doc = { tenants: [acme, beta], routes: [route('r1', 'acme'), route('g', null)] };
    const d = diff(desired(doc).items, current(doc), { mode: 'replace' });
    expect(d).toEqual({ steps: [], unchanged: 4, problems: [] });
  });

  test('a field the stored state lacks equals a null in the file; key order never matters', () => {
    const stored = current({ tenants: [acme] });
    for (const item of stored.get(def('tenant'))!) delete item.region;
    const file = desired({ tenants: [{ metadata: {}, region: null, name: 'Acme', id: 'acme' }] });
    expect(diff(file.items, stored, { mode: 'replace' })).toEqual({ steps: [], unchanged: 1, problems: [] });
  });

  test('field-level changes, nested paths, and list length changes as one value', () => {
    const before = current({
      tenants: [{ ...acme, metadata: { team: 'ml', cost: '1' } }],
      routes: [route('r1', 'acme', { methods: ['GET'] })],
    });
    const after = desired({
      tenants: [{ ...acme, name: 'Acme Corp', metadata: { team: 'ai', cost: '1' } }],
      routes: [route('r1', 'acme', { methods: ['GET', 'POST'] })],
    });
    const { steps, unchanged } = diff(after.items, before, { mode: 'merge' });
    expect(unchanged).toBe(0);
    expect(steps.map(({ op, kind, id, tenant_id, changes }) => ({ op, kind, id, tenant_id, changes }))).toEqual([
      {
        op: 'update',
        kind: 'tenant',
        id: 'acme',
        tenant_id: null,
        changes: [
          { path: 'metadata.team', before: 'ml', after: 'ai' },
          { path: 'name', before: 'Acme', after: 'Acme Corp' },
        ],
      },
      {
        op: 'update',
        kind: 'route',
        id: 'r1',
        tenant_id: 'acme',
        changes: [{ path: 'methods', before: ['GET'], after: ['GET', 'POST'] }],
      },
    ]);
  });

  test('a create lists the fields it sets; merge never deletes, replace deletes children before parents', () => {
    const before = current({
      tenants: [acme, beta],
      routes: [route('r1', 'beta')],
      budgets: [{ id: 'b1', tenant_id: 'beta', limit_usd: 5 }],
    });
    const after = desired({ tenants: [acme], routes: [route('r2', 'acme')] });
    const merge = diff(after.items, before, { mode: 'merge' });
    expect(brief(merge.steps)).toEqual(['create route acme/r2']);
    expect(merge.steps[0]!.changes).toEqual(
      expect.arrayContaining([
        { path: 'path_prefix', after: '/r2' },
        { path: 'tenant_id', after: 'acme' },
      ]),
    );
    expect(merge.steps[0]!.changes.some((c) => c.after === null || c.after === undefined)).toBe(false);
    const replace = diff(after.items, before, { mode: 'replace' });
    expect(brief(replace.steps)).toEqual([
      'create route acme/r2',
      'delete budget beta/b1',
      'delete route beta/r1',
      'delete tenant -/beta',
    ]);
    expect(replace.steps.at(-1)!.changes).toEqual(expect.arrayContaining([{ path: 'name', before: 'Beta' }]));
  });

  test('apply order follows references and scope, whatever order the document lists kinds in', () => {
    const kinds = (steps: Step[]) => [...new Set(steps.map((s) => s.kind))];
    const doc = {
      budgets: [{ id: 'b', tenant_id: 't', limit_usd: 1 }],
      routes: [route('r', 't', { backend_url: undefined, service_id: 's' })],
      services: [{ id: 's', tenant_id: 't', name: 's', target_url: 'https://s.example.com' }],
      tenants: [{ id: 't', name: 'T' }],
    };
    // the maps are built in reverse registry order, so only the derived order can put tenants first
    const reversed = (m: Map<ResourceDefinition, Item[]>) => new Map([...m].reverse());
    const created = diff(reversed(desired(doc).items), new Map(), { mode: 'merge' }).steps;
    const order = kinds(created);
    expect(order.indexOf('tenant')).toBe(0);
    expect(order.indexOf('service')).toBeLessThan(order.indexOf('route'));
    const deleted = diff(new Map(), reversed(current(doc)), { mode: 'replace' }).steps;
    expect(kinds(deleted)).toEqual([...order].reverse());
  });

  test('ids are matched per owner: two tenants may use one id', () => {
    const before = current({ tenants: [acme, beta], routes: [route('api', 'acme')] });
    const after = desired({ tenants: [acme, beta], routes: [route('api', 'acme'), route('api', 'beta')] });
    expect(brief(diff(after.items, before, { mode: 'replace' }).steps)).toEqual(['create route beta/api']);
  });

  test('secrets: "***" keeps, a new value rotates (sensitive), an equal version label is no change', () => {
    const hook = (extra: object) => ({ id: 'h', url: 'https://h.example.com', events: ['*'], ...extra });
    const stored = current({ webhooks: [hook({ secret_version: 2, secret: 'whsec_stored_value' })] });
    // the current state is what the export shows: the secret as "***"
    for (const items of stored.values()) for (const item of items) if (item.secret) item.secret = '***';
    const same = (extra: object) =>
      diff(desired({ webhooks: [hook(extra)] }).items, stored, {
        mode: 'merge',
        redacted: desired({ webhooks: [hook(extra)] }).redacted,
      });
    expect(same({ secret_version: 2, secret: '***' }).steps).toEqual([]);
    expect(same({ secret_version: 2, secret: 'whsec_given_again' }).steps).toEqual([]);
    const rotated = same({ secret_version: 3, secret: 'whsec_new_value_123' }).steps;
    expect(rotated.map((s) => s.changes)).toEqual([
      [
        { path: 'secret_version', before: 2, after: 3 },
        { path: 'secret', before: '***', after: '***', sensitive: true },
      ],
    ]);
    expect(rotated[0]!.item!.secret).toBe('whsec_new_value_123');
    expect(JSON.stringify(rotated.map((s) => s.changes))).not.toContain('whsec_new');
  });

  test('a tenant scope: items outside it are problems; replace deletes only inside it', () => {
    const before = current({
      tenants: [acme, beta],
      routes: [route('a1', 'acme'), route('a2', 'acme'), route('b1', 'beta'), route('g', null)],
      pricing: [{ id: 'p', provider: 'openai', model: 'm', input_per_million_usd: 1, output_per_million_usd: 1 }],
    });
    const scoped = diff(desired({ tenants: [acme], routes: [route('a1', 'acme')] }).items, before, {
      mode: 'replace',
      scope: 'acme',
    });
    expect(scoped.problems).toEqual([]);
    expect(brief(scoped.steps)).toEqual(['delete route acme/a2']);
    const outside = diff(desired({ tenants: [acme, beta], routes: [route('g', null)] }).items, before, {
      mode: 'merge',
      scope: 'acme',
    });
    expect(outside.problems).toEqual([
      { path: 'tenants.1.id', message: 'is outside the document\'s tenant scope "acme"' },
      { path: 'routes.0.tenant_id', message: 'is outside the document\'s tenant scope "acme"' },
    ]);
  });

  test('replace refuses to delete a tenant the document still puts things in', () => {
    const d = diff(desired({ routes: [route('r', 'acme')] }).items, current({ tenants: [acme] }), { mode: 'replace' });
    expect(d.problems).toEqual([
      { path: 'routes.0.tenant_id', message: 'tenant "acme" is not in the document, so replace would delete it' },
    ]);
  });

  test('every exported kind has a place in the order', () => {
    const all = new Map(EXPORTED.map((d) => [d, [] as Item[]]));
    expect(() => diff(all, all, { mode: 'replace' })).not.toThrow();
    expect(def('tenant').exportKey).toBe('tenants');
  });
});

describe.each(testDialects())('tenant-scoped replace (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    for (const [url, body] of [
      ['/v1/admin/tenants', acme],
      ['/v1/admin/tenants', beta],
      ['/v1/admin/routes', route('a1', 'acme')],
      ['/v1/admin/routes', route('a2', 'acme')],
      ['/v1/admin/routes', route('b1', 'beta')],
      ['/v1/admin/routes', { id: 'g', model_pattern: 'g*', providers: [{ provider: 'openai' }] }],
      ['/v1/admin/rate-limit-tiers', { id: 'gold', limit: 1, window_secs: 1 }],
    ] as const) {
      const res = await t.api('POST', url, body);
      if (res.status !== 201) throw new Error(`${url}: ${res.text}`);
    }
  });
  afterAll(() => t?.close());
  const ids = async () =>
    (await t.gateway.db.selectFrom('resources').select(['kind', 'id']).orderBy('kind').orderBy('id').execute()).map(
      (r) => `${r.kind}/${r.id}`,
    );

  test('a tenant export imported in replace mode is no change, and deletes only inside that tenant', async () => {
    const doc = (await t.api('GET', '/v1/admin/config/export?tenant_id=acme')).body;
    expect(doc.tenant_id).toBe('acme');
    const same = await t.api('POST', '/v1/admin/config/import?mode=replace&dry_run=true', doc);
    expect(same.body).toMatchObject({ created: [], updated: [], deleted: [], unchanged: 3, changes: [] });
    const before = await ids();
    doc.routes = doc.routes.filter((r: any) => r.id !== 'a2');
    const res = await t.api('POST', '/v1/admin/config/import?mode=replace', doc);
    expect([res.status, res.body.deleted]).toEqual([200, [{ kind: 'route', id: 'a2' }]]);
    expect(await ids()).toEqual(before.filter((x) => x !== 'route/a2'));
  });

  test('the scope may come from the query; an item outside it is a 400 and nothing is written', async () => {
    const before = await ids();
    const doc = { tenants: [acme], routes: [route('a1', 'acme'), route('b9', 'beta')] };
    const res = await t.api('POST', '/v1/admin/config/import?mode=replace&tenant_id=acme', doc);
    expect([res.status, res.body.error.details]).toEqual([
      400,
      [{ path: 'routes.1.tenant_id', message: 'is outside the document\'s tenant scope "acme"' }],
    ]);
    const clash = await t.api('POST', '/v1/admin/config/import?tenant_id=beta', { ...doc, tenant_id: 'acme' });
    expect([clash.status, clash.body.error.details[0].path]).toEqual([400, 'tenant_id']);
    expect(await ids()).toEqual(before);
  });
});

import { createPublicKey, verify } from 'node:crypto';
import { ALPHA_NAME, exportAll, hashOf, parseCsv, seedAuditLog } from './support/audit-chain';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

/** A CSV cell as the README says: text a spreadsheet would run as a formula gets a leading apostrophe. */
const asCell = (text: string) => (/^[=+\-@\t\r]/.test(text) ? `'${text}` : text);

describe.each(testDialects())('audit exports (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await seedAuditLog(t);
  });
  afterAll(() => t?.close());

  test("CSV: a header and one row per event, each cell the event's own, as an attachment", async () => {
    const res = await t.api('GET', '/v1/admin/audit/events/export');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.headers['content-disposition']).toContain('attachment');
    const [header, ...rows] = parseCsv(res.text);
    expect(header).toEqual([
      'id',
      'seq',
      'created_at',
      'type',
      'actor_type',
      'actor_id',
      'actor_name',
      'tenant_id',
      'resource_kind',
      'resource_id',
      'changes',
      'trace_id',
      'prev_hash',
      'hash',
      'signature',
    ]);
    const all = await exportAll(t);
    expect(rows).toHaveLength(all.length);
    rows.forEach((cells, i) => {
      const e = all[i];
      const text = [
        e.id,
        String(e.seq),
        e.created_at,
        e.type,
        e.actor.type,
        e.actor.id,
        e.actor.name,
        e.tenant_id ?? '',
        e.resource?.kind ?? '',
        e.resource?.id ?? '',
      ];
      expect(cells).toEqual([
        ...text.map(asCell),
        e.changes === null ? '' : expect.any(String),
        e.trace_id ?? '',
        e.prev_hash,
        e.hash,
        e.signature,
      ]);
      if (e.changes !== null) expect(JSON.parse(cells[10]!)).toEqual(e.changes);
    });
    const alphaRow = rows.find((r) => r[1] === '1')!;
    expect(JSON.parse(alphaRow[10]!)).toMatchObject({ name: { to: ALPHA_NAME } });
  });

  test('CSV: commas, quotes and newlines in cells are quoted', async () => {
    const names = ['bot, "v2"', 'line1\nline2']; // actor names are raw text cells: a comma and quotes, a bare newline
    for (const [i, name] of names.entries()) {
      const bot = (await t.api('POST', '/v1/admin/tokens', { name, role: 'owner' })).body;
      expect((await t.api('POST', '/v1/admin/tenants', { id: `csv-${i}`, name: 'C' }, bot.token)).status).toBe(201);
    }
    const res = await t.api('GET', '/v1/admin/audit/events/export');
    const rows = parseCsv(res.text).slice(1);
    expect(res.text).toContain('""Alpha, \\""the first\\""\\nsecond line""');
    expect([rows[2]![6], rows[0]![6]]).toEqual(names); // newest first: csv-1, its token, csv-0
    expect(res.text).toContain(',"bot, ""v2""",');
    expect(res.text).toContain(',"line1\nline2",');
  });

  test("CSV: a tenant filter exports that tenant's events only", async () => {
    expect(
      parseCsv((await t.api('GET', '/v1/admin/audit/events/export?tenant_id=beta')).text)
        .slice(1)
        .map((r) => r[1]),
    ).toEqual(['6', '5', '2']);
  });

  test('CSV: a cell a spreadsheet would run as a formula starts with an apostrophe; the JSON export keeps it as it was', async () => {
    const formulas = ['=HYPERLINK("http://evil.example","x")', '+1+1', '-2+3', '@SUM(A1)'];
    for (const [i, name] of formulas.entries()) {
      const bot = (await t.api('POST', '/v1/admin/tokens', { name, role: 'owner' })).body;
      expect((await t.api('POST', '/v1/admin/tenants', { id: `formula-${i}`, name: 'F' }, bot.token)).status).toBe(201);
    }
    // newest first: each tenant, created by its bot, then the bot's token, created by the bootstrap owner
    const rows = parseCsv((await t.api('GET', '/v1/admin/audit/events/export')).text).slice(1);
    expect([0, 2, 4, 6].map((i) => rows[i]![6])).toEqual(formulas.map((f) => `'${f}`).reverse());
    const json = (await t.api('GET', '/v1/admin/audit/events/export/json')).body as { actor: { name: string } }[];
    expect([0, 2, 4, 6].map((i) => json[i]!.actor.name)).toEqual([...formulas].reverse());
  });

  test('JSON: the same events as the list, with hash and signature that check out by the contract formula', async () => {
    const res = await t.api('GET', '/v1/admin/audit/events/export/json');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const all = res.body as any[];
    expect(all).toEqual((await t.api('GET', '/v1/admin/audit/events?limit=500')).body.data);
    const key = createPublicKey((await t.api('GET', '/v1/admin/audit/public-key')).text);
    [...all].reverse().forEach((e, i, asc) => {
      expect(Object.keys(e).sort()).toEqual([
        'actor',
        'changes',
        'created_at',
        'hash',
        'id',
        'prev_hash',
        'resource',
        'seq',
        'signature',
        'tenant_id',
        'trace_id',
        'type',
      ]);
      expect(e.prev_hash).toBe(i ? asc[i - 1].hash : '0'.repeat(64));
      expect(hashOf(e.prev_hash, e)).toBe(e.hash);
      expect(verify(null, Buffer.from(e.hash), key, Buffer.from(e.signature, 'base64'))).toBe(true);
    });
    expect((await t.api('GET', '/v1/admin/audit/events/export/json?type=TENANT_UPDATED')).body).toEqual([
      all.find((e) => e.seq === 5),
    ]);
  });
});

import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { TestGateway } from './gateway';

/** The contract's formula written out here, independently of server/audit/chain.ts: SHA-256(prev_hash ‖ canonical JSON). */
export const canonical = (v: any): string =>
  v === null || typeof v !== 'object'
    ? JSON.stringify(v ?? null)
    : Array.isArray(v)
      ? `[${v.map(canonical).join(',')}]`
      : `{${Object.keys(v)
          .filter((k) => v[k] !== undefined)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
          .join(',')}}`;
export const hashOf = (prevHash: string, { prev_hash: _p, hash: _h, signature: _s, ...body }: any) =>
  createHash('sha256').update(prevHash).update(canonical(body)).digest('hex');
export const signWith = (key: KeyObject, hash: string) => sign(null, Buffer.from(hash), key).toString('base64');
/** A key pair that is not the gateway's. */
export const foreignKeys = () => generateKeyPairSync('ed25519');

/** Minimal RFC 4180 parser: quoted cells, doubled quotes, CRLF records. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [],
    cell = '',
    quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') ((cell += '"'), i++);
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') (row.push(cell), (cell = ''));
    else if (c === '\r' && text[i + 1] === '\n') (rows.push([...row, cell]), (row = []), (cell = ''), i++);
    else cell += c;
  }
  return rows;
}

/** The first tenant's name: a comma, quotes and a newline, for the CSV export. */
export const ALPHA_NAME = 'Alpha, "the first"\nsecond line';

/**
 * The six events the audit suites start from, on a fresh gateway: seq 1-3 TENANT_CREATED (alpha, beta, gamma),
 * 4 API_KEY_CREATED (alpha), 5 TENANT_UPDATED (beta), 6 API_KEY_CREATED (beta).
 */
export async function seedAuditLog(t: TestGateway): Promise<void> {
  const setup: [string, string, object][] = [
    ['POST', '/v1/admin/tenants', { id: 'alpha', name: ALPHA_NAME }],
    ['POST', '/v1/admin/tenants', { id: 'beta', name: 'Beta' }],
    ['POST', '/v1/admin/tenants', { id: 'gamma', name: 'Gamma' }],
    ['POST', '/v1/admin/tenants/alpha/keys', { name: 'a-key' }],
    ['PUT', '/v1/admin/tenants/beta', { name: 'Beta Renamed' }],
    ['POST', '/v1/admin/tenants/beta/keys', { name: 'b-key' }],
  ];
  for (const [method, url, body] of setup) {
    const res = await t.api(method, url, body);
    if (res.status >= 300) throw new Error(`${method} ${url} answered ${res.status}: ${res.text}`);
  }
}

/** What GET /audit/verify says. */
export const verifyApi = async (t: TestGateway) => (await t.api('GET', '/v1/admin/audit/verify')).body;
/** Every event, newest first, as the JSON export gives them. */
export const exportAll = async (t: TestGateway) =>
  (await t.api('GET', '/v1/admin/audit/events/export/json')).body as any[];

/** The whole table is one chain: seqs 1..n, each prev_hash the hash before it, and verify agrees. Returns n. */
export async function expectOneChain(t: TestGateway): Promise<number> {
  const rows = await t.gateway.db
    .selectFrom('audit_events')
    .select(['seq', 'prev_hash', 'hash'])
    .orderBy('seq')
    .execute();
  expect(rows.map((r) => Number(r.seq))).toEqual(rows.map((_, i) => i + 1));
  rows.forEach((r, i) => expect(r.prev_hash).toBe(i ? rows[i - 1]!.hash : '0'.repeat(64)));
  expect(await verifyApi(t)).toEqual({ valid: true, checked: rows.length, first_invalid_seq: null });
  return rows.length;
}

/** An exported event as its audit_events row (to put back, or forge). */
export const toRow = (e: any) => ({
  seq: e.seq,
  id: e.id,
  created_at: e.created_at,
  type: e.type,
  actor: JSON.stringify(e.actor),
  tenant_id: e.tenant_id,
  resource_kind: e.resource?.kind ?? null,
  resource_id: e.resource?.id ?? null,
  changes: JSON.stringify(e.changes),
  trace_id: e.trace_id,
  prev_hash: e.prev_hash,
  hash: e.hash,
  signature: e.signature,
});

/**
 * Runs `tamper` on the audit tables, returns what GET /audit/verify says, then puts every row and the head back and
 * checks that the chain (`events` long) verifies again.
 */
export async function tamperAndRestore(t: TestGateway, tamper: () => Promise<unknown>, events: number) {
  const db = t.gateway.db;
  const saved = await exportAll(t);
  const head = await db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
  await tamper();
  const result = await verifyApi(t);
  await db.deleteFrom('audit_events').execute();
  await db
    .insertInto('audit_events')
    .values(saved.map(toRow) as never)
    .execute();
  await db.deleteFrom('audit_head').execute();
  await db.insertInto('audit_head').values(head).execute();
  expect(await verifyApi(t)).toEqual({ valid: true, checked: events, first_invalid_seq: null });
  return result;
}

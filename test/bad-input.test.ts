import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { buildDataApp } from '../server/data/data-app';
import { RESOURCES, type ResourceDefinition } from '../server/resources';
import { isNested, schemasFor } from '../server/resources/schemas';
import { testDialects } from './support/databases';
import { startTestGateway, until, type TestGateway } from './support/gateway';
import { MockLlm } from './support/mock-llm';

/** What PostgreSQL cannot store: a NUL (text, jsonb) and half a surrogate pair (jsonb). */
const POISONS = { NUL: 'ok\u0000', 'lone surrogate': 'ok\ud800' } as const;
const NUL_Q = 'ok%00'; // a NUL in a URL or query (a lone surrogate cannot be spelled in UTF-8 percent-encoding)

/**
 * One valid create body per kind, given a unique suffix. A kind added to the registry without an entry here fails
 * the suite, so the table keeps up with RESOURCES.
 */
const VALID: Record<string, (n: string) => Record<string, unknown>> = {
  rate_limit_tier: (n) => ({ id: `tier-${n}`, description: 'd', limit: 10, window_secs: 60 }),
  tenant: (n) => ({ id: `t-${n}`, name: 'T', region: 'eu', metadata: { k: 'v' } }),
  api_key: () => ({ tenant_id: 'acme', name: 'k', rate_limit_tier: 'gold', expires_at: null, metadata: { k: 'v' } }),
  token: () => ({ tenant_id: 'acme', name: 'ci', role: 'viewer', expires_at: null }),
  credential: (n) => ({
    id: `cred-${n}`,
    tenant_id: 'acme',
    name: 'c',
    provider: 'openai',
    api_key: 'sk-test-0123456789',
  }),
  pricing: (n) => ({
    id: `price-${n}`,
    provider: 'openai',
    model: `m-${n}`,
    input_per_million_usd: 1,
    output_per_million_usd: 2,
  }),
  service: (n) => ({
    id: `svc-${n}`,
    tenant_id: 'acme',
    name: 's',
    target_url: 'https://svc.example.com',
    health_check_path: null,
  }),
  route: (n) => ({
    id: `rt-${n}`,
    tenant_id: 'acme',
    description: 'd',
    model_pattern: `m-${n}*`,
    providers: [{ provider: 'openai', model: 'gpt-4o', credential_id: 'cred-base' }],
  }),
  budget: (n) => ({ id: `bud-${n}`, tenant_id: 'acme', name: 'b', limit_usd: 10 }),
  webhook: (n) => ({
    id: `wh-${n}`,
    tenant_id: 'acme',
    url: 'https://hooks.example.com/in',
    events: ['*'],
    secret: 'whsec-0123456789abcdef',
  }),
  policy: (n) => ({ id: `pol-${n}`, tenant_id: 'acme', name: 'p', type: 'quota', body: 'limit: 5\nperiod: day\n' }),
  schema: (n) => ({ id: `schema-${n}`, tenant_id: 'acme', schema: { type: 'object', required: ['name'] } }),
  user: (n) => ({
    id: `usr-${n}`,
    tenant_id: 'acme',
    email: `${n}@example.com`,
    name: 'U',
    role: 'viewer',
    password: 'long enough password',
  }),
  prompt_template: (n) => ({ id: `pt-${n}`, tenant_id: 'acme', name: 'p', template: 'Say {{x}}', variables: ['x'] }),
  mcp_server: (n) => ({
    id: `mcp-${n}`,
    tenant_id: 'acme',
    name: 'm',
    url: 'https://mcp.example.com/mcp',
    auth_header: 'Bearer mcp-0123456789',
  }),
};

/** A field path, where `{key}` stands for an object key of a record (metadata) rather than a value. */
type FieldPath = string[];
const KEY = '{key}';

/** Every string field (values, record keys, array items) of a zod schema, at any depth. */
function stringFields(schema: z.ZodType, path: FieldPath = []): FieldPath[] {
  const def = (schema as unknown as { _zod: { def: any } })._zod.def;
  switch (def.type) {
    case 'string':
    case 'enum':
      return [path];
    case 'literal':
      return def.values.some((v: unknown) => typeof v === 'string') ? [path] : [];
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      return stringFields(def.innerType, path);
    case 'pipe':
      return stringFields(def.in, path);
    case 'object':
      return Object.entries(def.shape as Record<string, z.ZodType>).flatMap(([k, v]) => stringFields(v, [...path, k]));
    case 'array':
      return stringFields(def.element, [...path, '0']);
    case 'record':
      return [[...path, KEY], ...stringFields(def.valueType, [...path, 'k'])];
    case 'union':
      return (def.options as z.ZodType[]).some((o) => stringFields(o, path).length) ? [path] : [];
    default:
      return [];
  }
}

/** `body` with the string at `path` replaced by `bad` (containers created as needed); the error path expected. */
function poisoned(
  body: Record<string, unknown>,
  path: FieldPath,
  bad: string,
): { body: Record<string, unknown>; expected: string } {
  const copy = structuredClone(body);
  let at: any = copy;
  for (const [i, seg] of path.entries()) {
    const last = i === path.length - 1;
    if (path[i + 1] === KEY) {
      at[seg] = { [bad.replace('ok', 'k')]: 'v' };
      return { body: copy, expected: [...path.slice(0, i + 1), 'k\ufffd'].join('.') };
    }
    if (last) at[seg] = bad;
    else {
      const nextIsIndex = /^\d+$/.test(path[i + 1]!);
      if (at[seg] === undefined || at[seg] === null || (nextIsIndex && at[seg].length === 0))
        at[seg] = nextIsIndex ? [{}] : {};
      at = at[seg];
    }
  }
  return { body: copy, expected: path.join('.') };
}

const collection = (def: ResourceDefinition) => `/v1/admin${def.path.replace('{tenant_id}', 'acme')}`;

describe.each(testDialects())('bad input is a 400 naming the field (%s)', (dialect) => {
  let t: TestGateway;
  const counts = async () => {
    const db = t.gateway.db;
    const resources = await db
      .selectFrom('resources')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    const events = await db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return { resources: Number(resources.n), events: Number(events.n) };
  };
  const refused = (res: { status: number; body: any }, path: string) => {
    expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
  };

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    expect(
      (await t.api('POST', '/v1/admin/rate-limit-tiers', { id: 'gold', limit: 100, window_secs: 60 })).status,
    ).toBe(201);
    expect((await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme' })).status).toBe(201);
    expect(
      (
        await t.api('POST', '/v1/admin/credentials', {
          id: 'cred-base',
          tenant_id: 'acme',
          provider: 'openai',
          api_key: 'sk-0123456789',
        })
      ).status,
    ).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  test('every kind in the registry has a valid body in the table, and it is accepted', async () => {
    expect(RESOURCES.map((d) => d.kind).filter((k) => !VALID[k])).toEqual([]);
    for (const def of RESOURCES) {
      const res = await t.api('POST', collection(def), VALID[def.kind]!('valid'));
      expect({ kind: def.kind, status: res.status, body: res.status === 201 ? undefined : res.body }).toEqual({
        kind: def.kind,
        status: 201,
        body: undefined,
      });
    }
  });

  describe.each(RESOURCES.map((def) => [def.kind, def] as const))('%s', (_kind, def) => {
    const fields = stringFields(schemasFor(def).create);

    test('the create schema has string fields to try', () => {
      expect(fields.length).toBeGreaterThan(0);
    });

    test.each(Object.entries(POISONS))(
      'a %s in any string field of a create is refused, and nothing is written',
      async (_name, bad) => {
        const before = await counts();
        for (const field of fields) {
          const { body, expected } = poisoned(
            VALID[def.kind]!(`p-${field.join('-')}`.replace(/[^a-z0-9-]/g, '')),
            field,
            bad,
          );
          const res = await t.api('POST', collection(def), body);
          expect({ field: expected, status: res.status }).toEqual({ field: expected, status: 400 });
          refused(res, expected);
        }
        expect(await counts()).toEqual(before);
      },
    );

    test('a NUL in a path id (GET, PUT, DELETE, actions) or a list filter is refused; a bad cursor or limit too', async () => {
      const before = await counts();
      const one = `${collection(def)}/${NUL_Q}`;
      refused(await t.api('GET', one), 'id');
      if (def.updatable !== false) refused(await t.api('PUT', one, VALID[def.kind]!('put')), 'id');
      refused(await t.api('DELETE', one), 'id');
      for (const action of Object.keys(def.actions ?? {})) refused(await t.api('POST', `${one}/${action}`), 'id');
      if (isNested(def)) refused(await t.api('GET', `/v1/admin${def.path.replace('{tenant_id}', NUL_Q)}`), 'tenant_id');
      refused(await t.api('GET', `${collection(def)}?tenant_id=${NUL_Q}`), 'tenant_id');
      refused(await t.api('GET', `${collection(def)}?cursor=${NUL_Q}`), 'cursor');
      refused(await t.api('GET', `${collection(def)}?cursor=garbage!!`), 'cursor');
      refused(
        await t.api('GET', `${collection(def)}?cursor=${Buffer.from('a\u0000b').toString('base64url')}`),
        'cursor',
      );
      refused(await t.api('GET', `${collection(def)}?limit=1e309`), 'limit');
      expect(await counts()).toEqual(before);
    });
  });

  test('a cursor a list returned still pages through it', async () => {
    const first = await t.api('GET', '/v1/admin/tenants?limit=1');
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await t.api('GET', `/v1/admin/tenants?limit=1&cursor=${first.body.next_cursor}`);
    expect(second.status).toBe(200);
    expect(second.body.data[0].id).not.toBe(first.body.data[0].id);
  });

  /** The lists outside the registry, each with its string filters and the kind of cursor it takes. */
  const LISTS: { path: string; filters: string[]; cursor: 'time' | 'seq' | null; dates: boolean }[] = [
    {
      path: '/request-logs',
      filters: ['tenant_id', 'api_key_id', 'route_id', 'path', 'kind'],
      cursor: 'time',
      dates: true,
    },
    { path: '/error-events', filters: ['tenant_id', 'route_id', 'resolved'], cursor: 'time', dates: true },
    { path: '/health-snapshots', filters: ['tenant_id', 'service_id'], cursor: 'time', dates: true },
    { path: '/health-snapshots/latest', filters: ['tenant_id'], cursor: null, dates: false },
    { path: '/token-usage', filters: ['tenantId', 'apiKey', 'model'], cursor: 'time', dates: true },
    { path: '/token-usage/summary', filters: ['tenantId', 'apiKey', 'model'], cursor: null, dates: true },
    { path: '/audit/events', filters: ['tenant_id', 'type'], cursor: 'seq', dates: true },
    { path: '/audit/events/export', filters: ['tenant_id', 'type'], cursor: null, dates: true },
    { path: '/audit/events/export/json', filters: ['tenant_id', 'type'], cursor: null, dates: true },
  ];
  const timeCursor = (at: string, id = 'x') => Buffer.from(JSON.stringify([at, id])).toString('base64url');

  test.each(LISTS)(
    '$path: a NUL in a filter, a date that does not exist, an out-of-range cursor are 400s',
    async (list) => {
      const url = (q: string) => `/v1/admin${list.path}?${q}`;
      for (const f of list.filters) refused(await t.api('GET', url(`${f}=${NUL_Q}`)), f);
      if (list.dates) {
        for (const p of ['from', 'to']) {
          for (const day of ['2026-02-30', '2025-02-29', '2026-04-31', '2026-04-30T24:00:00Z', '0000-01-01'])
            refused(await t.api('GET', url(`${p}=${day}`)), p);
          expect((await t.api('GET', url(`${p}=2024-02-29`))).status).toBe(200);
        }
      }
      if (list.cursor) {
        refused(await t.api('GET', url('limit=1e309')), 'limit');
        refused(await t.api('GET', url('cursor=garbage!!')), 'cursor');
        refused(await t.api('GET', url(`cursor=${NUL_Q}`)), 'cursor');
        refused(await t.api('GET', url('cursor=99999999999999999999')), 'cursor');
      }
      if (list.cursor === 'time') {
        for (const c of [
          timeCursor('-100000-01-01T00:00:00.000Z'),
          timeCursor('+275760-09-13T00:00:00.000Z'),
          timeCursor('2026-02-30T00:00:00.000Z'),
          timeCursor('2026-01-01T00:00:00.000Z', 'a\u0000'),
          timeCursor('2026-01-01T00:00:00.000Z', 'a\ud800'),
        ]) {
          refused(await t.api('GET', url(`cursor=${c}`)), 'cursor');
        }
        expect((await t.api('GET', url(`cursor=${timeCursor('2026-01-01T00:00:00.000Z', 'log_1')}`))).status).toBe(200);
      }
    },
  );

  test('a NUL in the id of an error event to resolve is refused', async () => {
    refused(await t.api('POST', `/v1/admin/error-events/${NUL_Q}/resolve`), 'id');
  });

  test('a body nested 50,000 deep, or with a number that is not exact, is refused with its path', async () => {
    const before = await counts();
    const deep = `{"id":"deep","name":"D","metadata":{"k":${'['.repeat(50_000)}${']'.repeat(50_000)}}}`;
    for (const url of ['/v1/admin/tenants', '/v1/admin/config/import']) {
      const res = await t.api('POST', url, deep);
      expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
      expect(res.body.error.details[0]).toEqual({
        path: expect.stringMatching(/^metadata\.k(\.0)+$/),
        message: 'nests deeper than 64 levels',
      });
    }
    refused(await t.api('POST', '/v1/admin/budgets', '{"tenant_id":"acme","limit_usd":1e309}'), 'limit_usd');
    refused(
      await t.api(
        'POST',
        '/v1/admin/budgets',
        '{"tenant_id":"acme","limit_usd":10,"alert_thresholds":[50,9007199254740993]}',
      ),
      'alert_thresholds.1',
    );
    expect(await counts()).toEqual(before);
  });
});

describe.each(testDialects())('the data plane refuses poisonous chat bodies at the edge (%s)', (dialect) => {
  let t: TestGateway;
  let data: FastifyInstance;
  let mock: MockLlm;
  let base: string;
  let key: string;
  const chat = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body,
    });

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    mock = new MockLlm();
    const upstream = await mock.start();
    data = await buildDataApp(t.gateway);
    await data.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(data.server.address() as AddressInfo).port}`;
    await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme' });
    key = (await t.api('POST', '/v1/admin/tenants/acme/keys', { name: 'prod' })).body.key;
    await t.api('POST', '/v1/admin/credentials', {
      id: 'openai-global',
      provider: 'openai',
      api_key: 'sk-upstream-global',
    });
    await t.api('POST', '/v1/admin/routes', {
      id: 'gpt',
      model_pattern: 'gpt*',
      providers: [{ provider: 'openai', base_url: upstream }],
    });
    await until(() => !!t.gateway.snapshot.get('route', 'gpt'));
  });
  afterAll(async () => {
    await data?.close();
    await mock?.stop();
    await t?.close();
  });

  test('a NUL or lone surrogate anywhere, or nesting 50,000 deep, is a 400 naming the field; the batch keeps every row', async () => {
    const msg = (content: string) => `[{"role":"user","content":${content}}]`;
    const bad = [
      { body: `{"model":"gpt-4o\\u0000","messages":${msg('"hi"')}}`, param: 'model' },
      { body: `{"model":"gpt-4o\\ud800","messages":${msg('"hi"')}}`, param: 'model' },
      { body: `{"model":"gpt-4o","messages":${msg('"h\\u0000i"')}}`, param: 'messages.0.content' },
      {
        body: `{"model":"gpt-4o","messages":${msg(`${'['.repeat(50_000)}${']'.repeat(50_000)}`)}}`,
        param: expect.stringMatching(/^messages\.0\.content(\.0)+$/),
      },
    ];
    const calls = mock.calls.length;
    for (const { body, param } of bad) {
      const res = await chat(body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({
        code: 'validation_failed',
        type: 'invalid_request_error',
        param,
      });
    }
    expect(mock.calls.length).toBe(calls);
    const ok = await chat('{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}');
    expect(ok.status).toBe(200);
    await data.dataPlane.usage.flush();
    await data.dataPlane.requestLogs.flush();
    const usage = await t.gateway.db.selectFrom('usage_records').selectAll().execute();
    expect(usage.map((u) => u.model)).toEqual(['gpt-4o']);
    const logs = await t.gateway.db
      .selectFrom('request_logs')
      .select(['status', 'error_code'])
      .where('path', '=', '/v1/chat/completions')
      .execute();
    expect(logs.map((l) => l.status).sort()).toEqual([200, 400, 400, 400, 400]);
  });

  test('x-request-id is kept only when it is a sane token; otherwise the request gets a new id', async () => {
    const sane = await chat('{}', { 'x-request-id': 'trace-abc_123.4:5' });
    expect(sane.headers.get('x-request-id')).toBe('trace-abc_123.4:5');
    for (const given of ['a b', 'x'.repeat(200), '<script>', '{"$gt":""}']) {
      expect((await chat('{}', { 'x-request-id': given })).headers.get('x-request-id')).toMatch(/^req_[0-9a-f-]{36}$/);
    }
  });
});

/** Sends raw bytes to a port and reads the whole answer. */
function raw(url: string, bytes: string): Promise<{ status: number; body: any }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(bytes));
    let text = '';
    socket.on('data', (c) => (text += c));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head, body] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
      resolve({ status: Number(head.split(' ')[1]), body: JSON.parse(body) });
    });
  });
}

describe.each(testDialects())('errors before routing come in the contract shape (%s)', (dialect) => {
  let t: TestGateway;
  let admin: string;
  let data: FastifyInstance;
  let dataUrl: string;

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    admin = await t.admin.listen({ host: '127.0.0.1', port: 0 });
    data = await buildDataApp(t.gateway);
    dataUrl = await data.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await data?.close();
    await t?.close();
  });

  test('admin: a too-long path id is 414, bad percent-encoding 400, oversized headers 431, a malformed request 400', async () => {
    const long = await t.api('GET', `/v1/admin/tenants/${'a'.repeat(150)}`);
    expect({ status: long.status, body: long.body }).toEqual({
      status: 414,
      body: { error: { code: 'URI_TOO_LONG', message: expect.any(String), details: [] } },
    });
    const badUrl = await t.api('GET', '/v1/admin/tenants/%ED%A0%80');
    expect({ status: badUrl.status, code: badUrl.body.error.code }).toEqual({ status: 400, code: 'BAD_REQUEST' });
    const big = await raw(admin, `GET /v1/admin/tenants?x=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(big).toEqual({
      status: 431,
      body: { error: { code: 'HEADERS_TOO_LARGE', message: expect.any(String), details: [] } },
    });
    const junk = await raw(admin, 'NOT HTTP AT ALL\r\n\r\n');
    expect(junk).toEqual({
      status: 400,
      body: { error: { code: 'BAD_REQUEST', message: expect.any(String), details: [] } },
    });
  });

  test("data plane: the same refusals in OpenAI's shape", async () => {
    const big = await raw(dataUrl, `GET /v1/models?x=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(big).toEqual({
      status: 431,
      body: {
        error: { code: 'headers_too_large', type: 'invalid_request_error', message: expect.any(String), param: null },
      },
    });
    const junk = await raw(dataUrl, 'NOT HTTP AT ALL\r\n\r\n');
    expect(junk).toEqual({
      status: 400,
      body: { error: { code: 'bad_request', type: 'invalid_request_error', message: expect.any(String), param: null } },
    });
  });
});

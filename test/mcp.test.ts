import { testDialects } from './support/databases';
import { created, setupTenant, uniqueId } from './support/fixtures';
import { startTestGateway, type TestGateway } from './support/gateway';
import { startMcpUpstream, type McpUpstream } from './support/mcp-upstream';

/**
 * MCP servers through the admin API: registration with a sealed auth header, the connectivity check (initialize
 * handshake against a real SDK server, both transports), the cached tool catalog, tenant isolation and bad input.
 */
describe.each(testDialects())('MCP servers (%s)', (dialect) => {
  let t: TestGateway;
  let upstream: McpUpstream;
  beforeAll(async () => {
    [t, upstream] = await Promise.all([startTestGateway(dialect, {}, { webhooks: false }), startMcpUpstream()]);
  });
  afterAll(async () => {
    await upstream?.close();
    await t?.close();
  });

  const register = (body: Record<string, unknown>, token?: string) =>
    t.api('POST', '/v1/admin/mcp-servers', { name: 'test', url: `${upstream.url}/mcp`, ...body }, token);

  async function tenantToken(tenantId: string, role = 'admin'): Promise<string> {
    return (await created(t, '/v1/admin/tokens', { name: role, role, tenant_id: tenantId })).token;
  }

  test('the auth header is sealed: never in an answer, the export shows "***", the upstream gets it', async () => {
    const secret = `Bearer mcp-${uniqueId('secret')}`;
    const res = await register({ id: uniqueId('mcp'), auth_header: secret });
    expect(res.status).toBe(201);
    expect(res.text).not.toContain(secret);
    expect(res.body).toMatchObject({ transport: 'streamable-http', auth_header_name: 'Authorization', tools: [] });
    const read = await t.api('GET', `/v1/admin/mcp-servers/${res.body.id}`);
    expect(read.text).not.toContain(secret);
    const exported = await t.api('GET', '/v1/admin/config/export');
    expect(exported.text).not.toContain(secret);
    expect(exported.text).toContain(res.body.id);
    expect(JSON.stringify(exported.body)).toMatch(new RegExp(`"auth_header":"\\*\\*\\*"`));

    upstream.requests.length = 0;
    const check = await t.api('POST', `/v1/admin/mcp-servers/${res.body.id}/check`);
    expect(check.status).toBe(200);
    expect(check.body).toMatchObject({
      reachable: true,
      protocol_version: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      server_name: 'test-upstream',
      server_version: '1.2.3',
      error: null,
    });
    expect(check.body.latency_ms).toBeGreaterThan(0);
    expect(upstream.requests.length).toBeGreaterThan(0);
    for (const r of upstream.requests) expect(r.headers.authorization).toBe(secret);
    expect(check.text).not.toContain(secret);
  });

  test('check over the SSE transport, and an unreachable server reported, not thrown', async () => {
    const sse = await register({ id: uniqueId('mcp'), url: `${upstream.url}/sse`, transport: 'sse', auth_header: 'x' });
    const ok = await t.api('POST', `/v1/admin/mcp-servers/${sse.body.id}/check`);
    expect(ok.body).toMatchObject({ reachable: true, server_name: 'test-upstream', error: null });
    const gone = await register({ id: uniqueId('mcp'), url: 'http://127.0.0.1:9/mcp', auth_header: 'x' });
    const failed = await t.api('POST', `/v1/admin/mcp-servers/${gone.body.id}/check`);
    expect(failed.status).toBe(200);
    expect(failed.body).toMatchObject({ reachable: false, protocol_version: null, error: expect.any(String) });
  });

  test('tools/refresh caches the catalog (tools/list), GET …/tools reads it, the change is audited', async () => {
    const res = await register({ id: uniqueId('mcp'), auth_header: 'Bearer t' });
    const empty = await t.api('GET', `/v1/admin/mcp-servers/${res.body.id}/tools`);
    expect(empty.body).toEqual({ object: 'list', data: [], refreshed_at: null });
    const refreshed = await t.api('POST', `/v1/admin/mcp-servers/${res.body.id}/tools/refresh`);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.data.map((tool: any) => tool.name).sort()).toEqual(['add', 'delete_everything']);
    const add = refreshed.body.data.find((tool: any) => tool.name === 'add');
    expect(add).toMatchObject({ description: 'Adds two numbers', input_schema: { type: 'object' } });
    expect(Object.keys(add.input_schema.properties).sort()).toEqual(['a', 'b']);
    const cached = await t.api('GET', `/v1/admin/mcp-servers/${res.body.id}/tools`);
    expect(cached.body).toEqual(refreshed.body);
    expect(Date.parse(cached.body.refreshed_at)).not.toBeNaN();
    const audit = await t.api('GET', '/v1/admin/audit/events?type=MCP_SERVER_TOOLS_REFRESHED');
    expect(audit.body.data.map((e: any) => e.resource.id)).toContain(res.body.id);
    const sse = await register({ id: uniqueId('mcp'), url: `${upstream.url}/sse`, transport: 'sse', auth_header: 'x' });
    const viaSse = await t.api('POST', `/v1/admin/mcp-servers/${sse.body.id}/tools/refresh`);
    expect(viaSse.body.data).toHaveLength(2);
  });

  test('a refresh of an unreachable server is a 502 and keeps the cached catalog', async () => {
    const res = await register({ id: uniqueId('mcp'), url: 'http://127.0.0.1:9/mcp', auth_header: 'x' });
    const failed = await t.api('POST', `/v1/admin/mcp-servers/${res.body.id}/tools/refresh`);
    expect([failed.status, failed.body.error.code]).toEqual([502, 'UPSTREAM_ERROR']);
    expect((await t.api('GET', `/v1/admin/mcp-servers/${res.body.id}/tools`)).body.data).toEqual([]);
  });

  test('bad input is a 400 naming the field', async () => {
    for (const [body, field] of [
      [{ transport: 'websocket' }, 'transport'],
      [{ url: 'ftp://x/y' }, 'url'],
      [{ auth_header_name: 'bad header' }, 'auth_header_name'],
      [{ timeout_ms: 5 }, 'timeout_ms'],
      [{ auth_header: '' }, 'auth_header'],
    ] as const) {
      const res = await register({ auth_header: 'x', ...body });
      expect([res.status, res.body.error.details.map((d: any) => d.path)]).toEqual([400, [field]]);
    }
    const missing = await t.api('POST', '/v1/admin/mcp-servers/nope/check');
    expect(missing.status).toBe(404);
  });

  test("a tenant sees and checks its own servers and global ones, never another tenant's", async () => {
    const a = await setupTenant(t);
    const b = await setupTenant(t);
    const tokenA = await tenantToken(a.tenantId);
    const viewerB = await tenantToken(b.tenantId, 'viewer');
    const adminB = await tenantToken(b.tenantId);
    const own = await register({ id: uniqueId('mcp'), auth_header: 'x' }, tokenA);
    expect([own.status, own.body.tenant_id]).toEqual([201, a.tenantId]);
    const global = await register({ id: uniqueId('mcp'), auth_header: 'x' });
    expect(global.body.tenant_id).toBeNull();

    const listA = await t.api('GET', '/v1/admin/mcp-servers?limit=500', undefined, tokenA);
    const idsA = listA.body.data.map((s: any) => s.id);
    expect(idsA).toEqual(expect.arrayContaining([own.body.id, global.body.id]));
    const listB = await t.api('GET', '/v1/admin/mcp-servers?limit=500', undefined, viewerB);
    expect(listB.body.data.map((s: any) => s.id)).not.toContain(own.body.id);

    for (const path of ['', '/tools', '/sessions'])
      expect((await t.api('GET', `/v1/admin/mcp-servers/${own.body.id}${path}`, undefined, viewerB)).status).toBe(404);
    expect((await t.api('POST', `/v1/admin/mcp-servers/${own.body.id}/check`, undefined, adminB)).status).toBe(404);
    // a viewer reads its tenant's catalog but may not make the gateway call out
    const viewerA = await tenantToken(a.tenantId, 'viewer');
    expect((await t.api('GET', `/v1/admin/mcp-servers/${own.body.id}/tools`, undefined, viewerA)).status).toBe(200);
    expect((await t.api('POST', `/v1/admin/mcp-servers/${own.body.id}/check`, undefined, viewerA)).status).toBe(403);
    // a tenant may read a global server, not act on it
    expect((await t.api('GET', `/v1/admin/mcp-servers/${global.body.id}/tools`, undefined, tokenA)).status).toBe(200);
    const act = await t.api('POST', `/v1/admin/mcp-servers/${global.body.id}/tools/refresh`, undefined, tokenA);
    expect(act.status).toBe(403);
  });

  test('the endpoints are in the OpenAPI document', async () => {
    const doc = (await t.api('GET', '/v1/admin/openapi.json', undefined, null)).body;
    for (const path of [
      '/v1/admin/mcp-servers',
      '/v1/admin/mcp-servers/{id}',
      '/v1/admin/mcp-servers/{id}/check',
      '/v1/admin/mcp-servers/{id}/tools/refresh',
      '/v1/admin/mcp-servers/{id}/tools',
      '/v1/admin/mcp-servers/{id}/sessions',
    ])
      expect(Object.keys(doc.paths)).toContain(path);
  });
});

describe.each(testDialects())('MCP server egress (%s)', (dialect) => {
  let t: TestGateway;
  let upstream: McpUpstream;
  beforeAll(async () => {
    const env = { PORTICO_EGRESS_ALLOW: '' };
    [t, upstream] = await Promise.all([startTestGateway(dialect, env, { webhooks: false }), startMcpUpstream()]);
  });
  afterAll(async () => {
    await upstream?.close();
    await t?.close();
  });

  test("a tenant's server on a private address is refused; the platform's global one is not", async () => {
    const a = await setupTenant(t);
    const body = { name: 'private', url: `${upstream.url}/mcp`, auth_header: 'x' };
    const own = await created(t, '/v1/admin/mcp-servers', { id: uniqueId('mcp'), tenant_id: a.tenantId, ...body });
    upstream.requests.length = 0;
    const check = await t.api('POST', `/v1/admin/mcp-servers/${own.id}/check?tenant_id=${a.tenantId}`);
    expect(check.body).toMatchObject({ reachable: false, error: 'the target is not a public address' });
    const refresh = await t.api('POST', `/v1/admin/mcp-servers/${own.id}/tools/refresh?tenant_id=${a.tenantId}`);
    expect([refresh.status, refresh.body.error.message]).toEqual([
      502,
      expect.stringContaining('not a public address'),
    ]);
    expect(upstream.requests).toEqual([]);
    const global = await created(t, '/v1/admin/mcp-servers', { id: uniqueId('mcp'), ...body });
    expect((await t.api('POST', `/v1/admin/mcp-servers/${global.id}/check`)).body.reachable).toBe(true);
  });
});

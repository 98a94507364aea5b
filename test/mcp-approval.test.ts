import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DENIED_CODE, EXPIRED_CODE, HELD_CODE } from '../server/mcp/tool-calls';
import { testDialects } from './support/databases';
import { created, inSnapshot, setupTenant, uniqueId, type TenantSetup } from './support/fixtures';
import { startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { startMcpUpstream, type McpUpstream } from './support/mcp-upstream';

/**
 * MCP approvals end to end: ACTIVE approval_gate policies hold matching `tools/call`s of an SDK client going through
 * `/mcp/{id}`; the held call's error names the approval; an admin approves or denies it over REST; the retry goes
 * through once, is refused, or is told the approval expired. Tenant isolation, roles and bad input on the REST side.
 */
describe.each(testDialects())('MCP approvals (%s)', (dialect) => {
  let t: TestGateway;
  let upstream: McpUpstream;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let a: TenantSetup;
  let b: TenantSetup;
  let server: string;
  const tokens: Record<string, string> = {};

  async function policy(tenantId: string, body: Record<string, unknown>, status: 'ACTIVE' | 'SHADOW') {
    const p = await created(t, '/v1/admin/policies', {
      id: uniqueId('gate'),
      tenant_id: tenantId,
      name: 'gate',
      type: 'approval_gate',
      body: JSON.stringify(body),
    });
    const moved = await t.api('POST', `/v1/admin/policies/${p.id}/status?tenant_id=${tenantId}`, { status });
    expect(moved.status).toBe(200);
    await until(() => t.gateway.snapshot.get('policy', p.id, tenantId)?.status === status);
    return p.id as string;
  }

  beforeAll(async () => {
    [t, upstream] = await Promise.all([startTestGateway(dialect, {}, { webhooks: false }), startMcpUpstream()]);
    data = await startDataPlane(t);
    [a, b] = [await setupTenant(t), await setupTenant(t)];
    const body = { name: 'upstream', url: `${upstream.url}/mcp`, auth_header: 'Bearer upstream-secret' };
    server = (await created(t, '/v1/admin/mcp-servers', { id: uniqueId('mcp'), ...body })).id;
    await inSnapshot(t, 'mcp_server', server);
    await policy(a.tenantId, { tools: ['delete_*'], timeout_secs: 60 }, 'ACTIVE');
    await policy(b.tenantId, { tools: ['delete_everything'], servers: [server], timeout_secs: 1 }, 'ACTIVE');
    for (const [name, role, tenant] of [
      ['a-admin', 'admin', a.tenantId],
      ['a-developer', 'developer', a.tenantId],
      ['a-viewer', 'viewer', a.tenantId],
      ['b-admin', 'admin', b.tenantId],
    ])
      tokens[name] = (await t.api('POST', '/v1/admin/tokens', { name, role, tenant_id: tenant })).body.token;
  });
  afterAll(async () => {
    await data?.close();
    await upstream?.close();
    await t?.close();
  });

  async function connect(key: string) {
    const transport = new StreamableHTTPClientTransport(new URL(`${data.url}/mcp/${server}`), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    });
    const client = new Client({ name: 'approval-client', version: '1.0.0' });
    await client.connect(transport);
    return client;
  }

  /** The JSON-RPC error of a call expected to be refused. */
  async function refusal(client: Client, args: Record<string, unknown>) {
    const before = upstream.called.length;
    const err = await client.callTool({ name: 'delete_everything', arguments: args }).then(
      () => undefined,
      (e: { code: number; message: string; data: { approval_id: string; status: string } }) => e,
    );
    expect(err).toBeDefined();
    expect(upstream.called.length).toBe(before); // never forwarded
    return err!;
  }

  const approval = (id: string, token?: string) => t.api('GET', `/v1/admin/mcp-approvals/${id}`, undefined, token);
  const decide = (id: string, what: 'approve' | 'deny', token?: string) =>
    t.api('POST', `/v1/admin/mcp-approvals/${id}/${what}`, undefined, token);

  test('a gated call is held with its approval id; once a tenant admin approves, one retry goes through', async () => {
    const client = await connect(a.key);
    // ungated tools are untouched
    expect((await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).content).toEqual([
      { type: 'text', text: '3' },
    ]);
    const held = await refusal(client, { reason: 'cleanup' });
    expect(held.code).toBe(HELD_CODE);
    const id = held.data.approval_id;
    expect(id).toMatch(/^apr_/);
    expect(held.message).toContain(id);
    // the same call again: the same approval, still pending
    expect((await refusal(client, { reason: 'cleanup' })).data).toMatchObject({ approval_id: id, status: 'pending' });

    const listed = await t.api('GET', `/v1/admin/mcp-approvals?status=pending`, undefined, tokens['a-viewer']);
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((x: any) => x.id)).toEqual([id]);
    expect(listed.body.data[0]).toMatchObject({
      tenant_id: a.tenantId,
      api_key_id: a.keyId,
      server_id: server,
      tool: 'delete_everything',
      arguments: { reason: 'cleanup' },
      status: 'pending',
      decided_by: null,
    });

    // viewers and developers read, but may not decide; another tenant's admin does not even see it
    for (const who of ['a-viewer', 'a-developer']) expect((await decide(id, 'approve', tokens[who])).status).toBe(403);
    expect((await decide(id, 'approve', tokens['b-admin'])).status).toBe(404);
    expect((await approval(id, tokens['b-admin'])).status).toBe(404);
    const other = await t.api('GET', `/v1/admin/mcp-approvals?tenant_id=${a.tenantId}`, undefined, tokens['b-admin']);
    expect(other.status).toBe(403);

    const approved = await decide(id, 'approve', tokens['a-admin']);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', decided_by: { name: 'a-admin' } });
    expect((await decide(id, 'deny')).status).toBe(409); // decided already

    const before = upstream.called.length;
    const result = await client.callTool({ name: 'delete_everything', arguments: { reason: 'cleanup' } });
    expect(result.isError).toBeFalsy();
    expect(upstream.called.slice(before)).toEqual(['delete_everything']);
    expect((await approval(id)).body.status).toBe('used');
    // one use: the next identical call asks anew
    const again = await refusal(client, { reason: 'cleanup' });
    expect([again.code, again.data.approval_id === id]).toEqual([HELD_CODE, false]);
    await client.close();

    const events = await t.gateway.db
      .selectFrom('audit_events')
      .select(['type', 'actor', 'tenant_id', 'resource_id'])
      .where('resource_id', '=', id)
      .execute();
    expect(events.map((e) => [e.type, e.actor.name, e.tenant_id])).toEqual([
      ['MCP_APPROVAL_APPROVED', 'a-admin', a.tenantId],
    ]);
  });

  test('a denied call is refused with its own code, and different arguments need their own approval', async () => {
    const client = await connect(a.key);
    const held = await refusal(client, { reason: 'deny me' });
    const id = held.data.approval_id;
    const denied = await decide(id, 'deny');
    expect([denied.status, denied.body.status, denied.body.decided_by.type]).toEqual([200, 'denied', 'token']);
    const refused = await refusal(client, { reason: 'deny me' });
    expect([refused.code, refused.data.approval_id, refused.data.status]).toEqual([DENIED_CODE, id, 'denied']);
    const different = await refusal(client, { reason: 'something else' });
    expect([different.code, different.data.approval_id === id]).toEqual([HELD_CODE, false]);
    const list = await t.api('GET', `/v1/admin/mcp-approvals?status=denied&tenant_id=${a.tenantId}`);
    expect(list.body.data.map((x: any) => x.id)).toEqual([id]);
    await client.close();
  });

  test("past the gate's timeout an approval expires: the retry is told so, and the next one asks anew", async () => {
    const client = await connect(b.key);
    const held = await refusal(client, {});
    const id = held.data.approval_id;
    expect(held.code).toBe(HELD_CODE);
    await until(async () => (await approval(id)).body.status === 'expired', 5000);
    const expired = await t.api('GET', `/v1/admin/mcp-approvals?status=expired`, undefined, tokens['b-admin']);
    expect(expired.body.data.map((x: any) => x.id)).toEqual([id]);
    expect((await decide(id, 'approve', tokens['b-admin'])).status).toBe(409);
    const told = await refusal(client, {});
    expect([told.code, told.data.approval_id]).toEqual([EXPIRED_CODE, id]);
    expect(told.message).toContain('expired');
    const anew = await refusal(client, {});
    expect([anew.code, anew.data.approval_id === id]).toEqual([HELD_CODE, false]);
    await client.close();
  });

  test('a SHADOW gate only counts; the REST side refuses bad input and unknown ids', async () => {
    const shadow = await policy(a.tenantId, { tools: ['add'] }, 'SHADOW');
    const client = await connect(a.key);
    expect((await client.callTool({ name: 'add', arguments: { a: 2, b: 2 } })).content).toEqual([
      { type: 'text', text: '4' },
    ]);
    await client.close();
    const stats = await t.api('GET', `/v1/admin/policies/${shadow}/shadow-stats?tenant_id=${a.tenantId}`);
    expect(stats.body.verdicts).toEqual({ require_approval: 1 });

    const bad = await t.api('GET', '/v1/admin/mcp-approvals?status=maybe');
    expect([bad.status, bad.body.error.details[0].path]).toEqual([400, 'status']);
    expect((await t.api('GET', '/v1/admin/mcp-approvals?cursor=nope')).status).toBe(400);
    expect((await decide('apr_nope', 'approve')).status).toBe(404);
    expect((await approval('apr_nope')).status).toBe(404);
    const paths = (await t.api('GET', '/v1/admin/openapi.json', undefined, null)).body.paths;
    for (const p of [
      '/mcp-approvals',
      '/mcp-approvals/{id}',
      '/mcp-approvals/{id}/approve',
      '/mcp-approvals/{id}/deny',
    ])
      expect(paths[`/v1/admin${p}`]).toBeDefined();
  });
});

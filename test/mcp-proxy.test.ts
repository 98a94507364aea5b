import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { HELD_CODE } from '../server/mcp/tool-calls';
import { installToolGate, type ToolCall } from '../server/mcp/tool-gate';
import { testDialects } from './support/databases';
import { created, inSnapshot, setupTenant, uniqueId, type TenantSetup } from './support/fixtures';
import { startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { startMcpUpstream, type McpUpstream } from './support/mcp-upstream';

/**
 * The MCP proxy on the data plane, `/mcp/{server_id}`, driven by the official SDK's client against a real SDK server:
 * key auth and tenant isolation, tools listed and called through it, the tool gate holding a call, sessions counted,
 * request logs written.
 */
describe.each(testDialects())('MCP proxy (%s)', (dialect) => {
  let t: TestGateway;
  let upstream: McpUpstream;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let a: TenantSetup;
  let b: TenantSetup;
  let ownA: string;
  let global: string;
  let sseServer: string;
  const gateCalls: ToolCall[] = [];
  let restoreGate: ReturnType<typeof installToolGate>;

  beforeAll(async () => {
    [t, upstream] = await Promise.all([startTestGateway(dialect, {}, { webhooks: false }), startMcpUpstream()]);
    data = await startDataPlane(t);
    [a, b] = [await setupTenant(t), await setupTenant(t)];
    const body = { name: 'upstream', url: `${upstream.url}/mcp`, auth_header: 'Bearer upstream-secret-42' };
    ownA = (await created(t, '/v1/admin/mcp-servers', { id: uniqueId('mcp'), tenant_id: a.tenantId, ...body })).id;
    global = (await created(t, '/v1/admin/mcp-servers', { id: uniqueId('mcp'), ...body })).id;
    const sseBody = { ...body, url: `${upstream.url}/sse`, transport: 'sse', tenant_id: a.tenantId };
    sseServer = (await created(t, '/v1/admin/mcp-servers', { id: uniqueId('mcp'), ...sseBody })).id;
    await Promise.all([ownA, global, sseServer].map((id) => inSnapshot(t, 'mcp_server', id)));
    // the hook approval gates plug into: here, a gate holding one tool by name
    restoreGate = installToolGate((call) => {
      gateCalls.push(call);
      return call.tool === 'delete_everything' ? { action: 'hold', approvalId: 'apr_test_1' } : { action: 'allow' };
    });
  });
  afterAll(async () => {
    installToolGate(restoreGate);
    await data?.close();
    await upstream?.close();
    await t?.close();
  });

  async function connect(serverId: string, key: string) {
    const transport = new StreamableHTTPClientTransport(new URL(`${data.url}/mcp/${serverId}`), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    });
    const client = new Client({ name: 'test-client', version: '1.0.0' });
    await client.connect(transport);
    return { client, transport };
  }

  test("an SDK client lists and calls tools through the proxy; the upstream gets the server's auth header, never the key", async () => {
    upstream.requests.length = 0;
    const { client } = await connect(ownA, a.key);
    const tools = await client.listTools();
    expect(tools.tools.map((tool) => tool.name).sort()).toEqual(['add', 'delete_everything']);
    const result = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
    expect(result.content).toEqual([{ type: 'text', text: '5' }]);
    expect(upstream.called).toContain('add');
    await client.close();
    expect(upstream.requests.length).toBeGreaterThan(0);
    for (const r of upstream.requests) {
      expect(r.headers.authorization).toBe('Bearer upstream-secret-42');
      expect(JSON.stringify(r.headers)).not.toContain(a.key);
    }
    const call = gateCalls.find((c) => c.tool === 'add')!;
    expect([call.server.id, call.tenant.id, call.key.id, call.arguments]).toEqual([
      ownA,
      a.tenantId,
      a.keyId,
      { a: 2, b: 3 },
    ]);
  });

  test('a held tools/call is answered with an error naming the approval, and never reaches the upstream', async () => {
    const { client } = await connect(global, b.key);
    const before = upstream.called.length;
    await expect(client.callTool({ name: 'delete_everything', arguments: {} })).rejects.toMatchObject({
      code: HELD_CODE,
      message: expect.stringContaining('apr_test_1'),
    });
    expect(upstream.called.slice(before)).toEqual([]);
    // the session goes on: an allowed call still works
    expect((await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } })).content).toEqual([
      { type: 'text', text: '2' },
    ]);
    await client.close();
  });

  test("a key reaches its tenant's servers and global ones only; no key is a 401", async () => {
    const init = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    });
    const post = (id: string, key?: string) =>
      fetch(`${data.url}/mcp/${id}`, {
        method: 'POST',
        body: init,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...(key ? { authorization: `Bearer ${key}` } : {}),
        },
      });
    const seen = upstream.requests.length;
    expect((await post(ownA, b.key)).status).toBe(404);
    expect((await post(ownA)).status).toBe(401);
    expect((await post('no-such-server', a.key)).status).toBe(404);
    const off = { name: 'off', url: `${upstream.url}/mcp`, auth_header: 'x', enabled: false, tenant_id: a.tenantId };
    const disabled = (await created(t, '/v1/admin/mcp-servers', { id: uniqueId('mcp'), ...off })).id;
    await inSnapshot(t, 'mcp_server', disabled);
    expect((await post(disabled, a.key)).status).toBe(404);
    expect(upstream.requests.length).toBe(seen);
    const bad = await fetch(`${data.url}/mcp/${global}`, {
      method: 'POST',
      body: '{not json',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.key}` },
    });
    expect([bad.status, ((await bad.json()) as any).error.param]).toEqual([400, 'body']);
    expect(upstream.requests.length).toBe(seen);
    const res = await post(global, a.key);
    expect(res.status).toBe(200);
    await res.text();
  });

  test('sessions are counted per server, and a DELETE ends one', async () => {
    const sessions = () => t.api('GET', `/v1/admin/mcp-servers/${ownA}/sessions?tenant_id=${a.tenantId}`);
    const before = (await sessions()).body;
    const { client, transport } = await connect(ownA, a.key);
    await client.listTools();
    const open = (await sessions()).body;
    expect(open).toEqual({
      active_sessions: before.active_sessions + 1,
      total_sessions: before.total_sessions + 1,
    });
    await transport.terminateSession();
    await client.close();
    expect((await sessions()).body).toEqual({ ...open, active_sessions: before.active_sessions });
  });

  test('over the SSE transport: tools listed and called, a held call answered on the stream, the session counted', async () => {
    const transport = new SSEClientTransport(new URL(`${data.url}/mcp/${sseServer}/sse`), {
      requestInit: { headers: { authorization: `Bearer ${a.key}` } },
      eventSourceInit: {
        fetch: (url, init) => fetch(url, { ...init, headers: { ...init?.headers, authorization: `Bearer ${a.key}` } }),
      },
    });
    const client = new Client({ name: 'sse-client', version: '1.0.0' });
    await client.connect(transport);
    const sessions = () => t.api('GET', `/v1/admin/mcp-servers/${sseServer}/sessions?tenant_id=${a.tenantId}`);
    expect((await sessions()).body.active_sessions).toBe(1);
    expect((await client.listTools()).tools.map((tool) => tool.name).sort()).toEqual(['add', 'delete_everything']);
    expect((await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })).content).toEqual([
      { type: 'text', text: '42' },
    ]);
    const before = upstream.called.length;
    await expect(client.callTool({ name: 'delete_everything', arguments: {} })).rejects.toMatchObject({
      code: HELD_CODE,
      message: expect.stringContaining('apr_test_1'),
    });
    expect(upstream.called.slice(before)).toEqual([]);
    // another tenant cannot post into this session, nor open the stream of a server it cannot see
    const stream = (await sessions()).body;
    expect(stream.total_sessions).toBeGreaterThanOrEqual(1);
    const foreign = await fetch(`${data.url}/mcp/${sseServer}/sse`, { headers: { authorization: `Bearer ${b.key}` } });
    expect(foreign.status).toBe(404);
    await client.close();
    await until(async () => (await sessions()).body.active_sessions === 0);
  });

  test('each proxied request is a request-log row of the key and tenant', async () => {
    const { client } = await connect(ownA, a.key);
    await client.listTools();
    await client.close();
    await data.app.dataPlane.requestLogs.flush();
    const rows = await t.gateway.db
      .selectFrom('request_logs')
      .select(['tenant_id', 'api_key_id', 'method', 'path', 'status'])
      .where('path', '=', `/mcp/${ownA}`)
      .execute();
    const mine = rows.filter((r) => r.api_key_id === a.keyId);
    expect(mine.length).toBeGreaterThanOrEqual(2);
    for (const r of mine) expect(r.tenant_id).toBe(a.tenantId);
    expect(mine.map((r) => [r.method, r.status])).toContainEqual(['POST', 200]);
    // tenant B's refused attempt on A's server is logged as B's, refused
    const refused = rows.filter((r) => r.api_key_id === b.keyId);
    expect(refused.map((r) => [r.tenant_id, r.status])).toEqual([[b.tenantId, 404]]);
  });
});

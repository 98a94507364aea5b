import { expectOneChain } from './support/audit-chain';
import { testDialects } from './support/databases';
import { OWNER_TOKEN, startTestGateway, type TestGateway } from './support/gateway';

/** Who made a change and which request: every audit event names the calling token and the trace id. */
describe.each(testDialects())('audit event actor and trace id (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
  });
  afterAll(() => t?.close());

  const post = (id: string, headers: Record<string, string>, token = OWNER_TOKEN) =>
    t.admin.inject({
      method: 'POST',
      url: '/v1/admin/tenants',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      payload: { id, name: id },
    });
  const latest = async () => (await t.api('GET', '/v1/admin/audit/events?limit=1')).body.data[0];

  test('trace_id is the x-request-id, actor the bootstrap token that called', async () => {
    expect((await post('traced', { 'x-request-id': 'my-trace-1' })).statusCode).toBe(201);
    expect(await latest()).toMatchObject({
      type: 'TENANT_CREATED',
      resource: { kind: 'tenant', id: 'traced' },
      trace_id: 'my-trace-1',
      actor: { type: 'token', id: 'bootstrap', name: 'bootstrap owner token' },
    });
    await expectOneChain(t);
  });

  test('actor is the personal access token that called, trace_id the generated request id', async () => {
    const pat = (await t.api('POST', '/v1/admin/tokens', { name: 'ci-bot', role: 'owner' })).body;
    expect((await post('by-bot', {}, pat.token)).statusCode).toBe(201);
    const event = await latest();
    expect(event).toMatchObject({ resource: { id: 'by-bot' }, actor: { type: 'token', id: pat.id, name: 'ci-bot' } });
    expect(event.trace_id).toMatch(/^req_[0-9a-f-]{36}$/);
    await expectOneChain(t);
  });
});

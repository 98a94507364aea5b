import { seedAuditLog } from './support/audit-chain';
import { testDialects } from './support/databases';
import { OWNER_TOKEN, startTestGateway, type TestGateway } from './support/gateway';

/** A tenant-scoped token reads its own tenant's audit events only. */
describe.each(testDialects())('audit log for tenant-scoped readers (%s)', (dialect) => {
  let t: TestGateway;
  let viewer: string;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    await seedAuditLog(t);
    viewer = (await t.api('POST', '/v1/admin/tokens', { name: 'beta-viewer', role: 'viewer', tenant_id: 'beta' })).body
      .token;
  });
  afterAll(() => t?.close());

  const seqs = async (url: string, token: string) => {
    const { body } = await t.api('GET', url, undefined, token);
    return (body.data ?? body).map((e: any) => e.seq);
  };

  test('a tenant-scoped reader sees only its tenant, in the list and the export', async () => {
    const betaSeqs = await seqs('/v1/admin/audit/events?tenant_id=beta&limit=500', OWNER_TOKEN);
    expect(betaSeqs.filter((seq: number) => seq <= 6)).toEqual([6, 5, 2]); // the seed's; after them the viewer token's TOKEN_CREATED, which belongs to beta
    expect(await seqs('/v1/admin/audit/events?limit=500', viewer)).toEqual(betaSeqs);
    expect(await seqs('/v1/admin/audit/events/export/json', viewer)).toEqual(betaSeqs);
  });

  test('a tenant-scoped reader may not name another tenant, nor verify the whole chain', async () => {
    expect((await t.api('GET', '/v1/admin/audit/events?tenant_id=alpha', undefined, viewer)).status).toBe(403);
    expect((await t.api('GET', '/v1/admin/audit/verify', undefined, viewer)).status).toBe(403);
  });
});

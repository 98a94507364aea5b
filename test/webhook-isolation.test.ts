import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';
import { Receiver } from './support/receiver';

// A delivery timeout far longer than the test: a webhook that waited on the hung one would not arrive in time.
const patient = { webhooks: { backoffMs: 50, pollMs: 50, timeoutMs: 120_000 } };

describe.each(testDialects())('webhook deliveries to different endpoints (%s)', (dialect) => {
  let t: TestGateway;
  const hung = new Receiver();
  const healthy = new Receiver();

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, patient);
    hung.respond = () => 'hang';
  });
  afterAll(async () => {
    // the hung endpoint lets go first, so the dispatcher's stop does not wait out its timeout
    await hung.stop();
    await healthy.stop();
    await t?.close();
  });

  test("one tenant's endpoint that never answers does not hold another tenant's delivery", async () => {
    for (const id of ['slow-co', 'fast-co'])
      expect((await t.api('POST', '/v1/admin/tenants', { id, name: id })).status).toBe(201);
    const slow = await t.api('POST', '/v1/admin/webhooks', {
      tenant_id: 'slow-co',
      url: await hung.start(),
      events: ['*'],
    });
    expect(slow.status).toBe(201);
    await hung.waitFor(1); // its own WEBHOOK_CREATED is in flight, and will stay so

    const fast = await t.api('POST', '/v1/admin/webhooks', {
      tenant_id: 'fast-co',
      url: await healthy.start(),
      events: ['*'],
    });
    expect(fast.status).toBe(201);
    const [got] = await healthy.waitFor(1, 10_000);
    expect(JSON.parse(got!.body)).toMatchObject({ type: 'WEBHOOK_CREATED', tenant_id: 'fast-co' });

    // and a second event for each: the healthy one is delivered again, the hung one still holds only its own queue
    await t.api('PUT', '/v1/admin/tenants/slow-co', { name: 'Slow Co' });
    await t.api('PUT', '/v1/admin/tenants/fast-co', { name: 'Fast Co' });
    await healthy.waitFor(2, 10_000);
    expect(hung.received).toHaveLength(1);
  });
});

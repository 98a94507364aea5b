import { createHmac } from 'node:crypto';
import { EXPORTED } from '../server/control/config-document';
import { decryptSecret } from '../server/lib/secrets';
import { verifyPassword } from '../server/users/password';
import { RESOURCES, type ResourceDefinition } from '../server/resources';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';
import { Receiver } from './support/receiver';

/** Kinds whose secret the caller gives (or the server makes) and that is stored encrypted, never read back. */
const ENCRYPTED = RESOURCES.filter((d) => d.secret?.mode === 'encrypted');

/** A body without the secret for each such kind, and a changed one for its PUT; the test fails for a kind missing here. */
const BODIES: Record<string, { create: object; put: object }> = {
  webhook: {
    create: { url: 'https://hooks.example.com/a', events: ['*'] },
    put: { url: 'https://hooks.example.com/b', events: ['ROUTE_UPDATED'] },
  },
  credential: { create: { provider: 'openai' }, put: { provider: 'openai', name: 'renamed' } },
  user: {
    create: { email: 'write-only@example.com', name: 'W', role: 'owner' },
    put: { email: 'write-only@example.com', name: 'Renamed', role: 'owner' },
  },
  mcp_server: {
    create: { name: 'm', url: 'https://mcp.example.com/a' },
    put: { name: 'renamed', url: 'https://mcp.example.com/b' },
  },
};

const hmac = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

describe.each(testDialects())('write-only secrets (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
  });
  afterAll(() => t?.close());

  const url = (def: ResourceDefinition) => `/v1/admin${def.path}`;
  /** Whether the stored secret is `value`: decrypted, or for a hashed one (a password) verified against its hash. */
  const holds = async (def: ResourceDefinition, id: string, value: string) => {
    const row = await t.gateway.db
      .selectFrom('resources')
      .select('secret')
      .where('kind', '=', def.kind)
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    if ((def.secret as { hashed?: boolean }).hashed) return verifyPassword(value, row.secret!);
    return decryptSecret(t.gateway.keys.masterKey, row.secret!) === value;
  };

  test('every kind with an encrypted secret has a case here', () => {
    expect(ENCRYPTED.map((d) => d.kind).sort()).toEqual(Object.keys(BODIES).sort());
  });

  test.each(ENCRYPTED.map((d) => [d.kind, d] as const))(
    '%s: a PUT without the secret keeps it; a PUT with one replaces it',
    async (_kind, def) => {
      const field = def.secret!.field;
      const created = await t.api('POST', url(def), { ...BODIES[def.kind]!.create, [field]: 'the-first-secret-1111' });
      expect(created.status).toBe(201);
      const id = created.body.id;
      const before = (await t.api('GET', `${url(def)}/${id}`)).body;

      const changed = await t.api('PUT', `${url(def)}/${id}`, BODIES[def.kind]!.put);
      expect(changed.status).toBe(200);
      expect(changed.body[field]).toBeUndefined();
      expect(await holds(def, id, 'the-first-secret-1111')).toBe(true);
      const secretFields = [
        (def.secret as { setField?: string }).setField,
        (def.secret as { last4Field?: string }).last4Field,
      ].filter((f): f is string => !!f);
      for (const f of secretFields) expect(changed.body[f]).toEqual(before[f]);
      const event = (await t.api('GET', `/v1/admin/audit/events?limit=1`)).body.data[0];
      expect(event.changes[field]).toBeUndefined(); // no rotation recorded

      const rotated = await t.api('PUT', `${url(def)}/${id}`, {
        ...BODIES[def.kind]!.put,
        [field]: 'the-second-secret-2222',
      });
      expect(rotated.status).toBe(200);
      expect(await holds(def, id, 'the-second-secret-2222')).toBe(true);
      expect(JSON.stringify(rotated.body)).not.toContain('the-second-secret');
    },
  );

  test('a webhook edited without its secret still signs deliveries with it', async () => {
    const rx = new Receiver();
    const target = await rx.start();
    try {
      const hook = (await t.api('POST', '/v1/admin/webhooks', { url: target, events: ['*'] })).body;
      expect(
        (await t.api('PUT', `/v1/admin/webhooks/${hook.id}`, { url: target, events: ['*'], active: true })).status,
      ).toBe(200);
      expect((await t.api('POST', `/v1/admin/webhooks/${hook.id}/test`)).status).toBe(200);
      const [got] = await rx.waitFor(1);
      expect(got!.headers['x-gateway-signature']).toBe(hmac(hook.secret, got!.body));
    } finally {
      await rx.stop();
    }
  });

  describe('import of "***" for a resource that does not exist yet', () => {
    const importing = EXPORTED.filter((d) => d.secret?.mode === 'encrypted');

    test.each(importing.map((d) => [d.kind, d] as const))(
      '%s: generated and returned once, or a 400 naming the field',
      async (_kind, def) => {
        const rule = def.secret as { field: string; generatePrefix?: string };
        const doc = {
          [def.exportKey!]: [{ id: `${def.kind}-redacted`, ...BODIES[def.kind]!.create, [rule.field]: '***' }],
        };
        const count = async () => (await t.gateway.db.selectFrom('resources').select('id').execute()).length;
        const before = await count();
        const path = `${def.exportKey}.0.${rule.field}`;

        const dry = await t.api('POST', '/v1/admin/config/import?dry_run=true', doc);
        if (!rule.generatePrefix) {
          expect([dry.status, dry.body.error.details]).toEqual([
            400,
            [{ path, message: expect.stringContaining('give the secret') }],
          ]);
          expect((await t.api('POST', '/v1/admin/config/import', doc)).status).toBe(400);
          expect(await count()).toBe(before);
          return;
        }
        expect(dry.status).toBe(200);
        expect(dry.body.generated_secrets).toEqual([]);
        expect(dry.body.warnings).toEqual([
          expect.stringMatching(new RegExp(`^${path.replace(/\./g, '\\.')}: .*returns it once`)),
        ]);
        expect(await count()).toBe(before);

        const real = await t.api('POST', '/v1/admin/config/import', doc);
        expect(real.status).toBe(200);
        expect(real.body.created).toEqual([{ kind: def.kind, id: `${def.kind}-redacted` }]);
        const [made] = real.body.generated_secrets;
        expect(made).toEqual({
          kind: def.kind,
          id: `${def.kind}-redacted`,
          field: rule.field,
          value: expect.stringMatching(new RegExp(`^${rule.generatePrefix}`)),
        });
        expect(await holds(def, `${def.kind}-redacted`, made.value)).toBe(true);
        const audit = (await t.api('GET', '/v1/admin/audit/events?limit=5')).body.data;
        expect(JSON.stringify(audit)).not.toContain(made.value);
      },
    );

    test('"***" for an existing webhook whose other fields change keeps its secret', async () => {
      const hook = (
        await t.api('POST', '/v1/admin/webhooks', {
          id: 'kept',
          url: 'https://hooks.example.com/k',
          events: ['*'],
          secret: 'kept-secret-3333',
        })
      ).body;
      const doc = { webhooks: [{ id: hook.id, url: 'https://hooks.example.com/moved', events: ['*'], secret: '***' }] };
      const res = await t.api('POST', '/v1/admin/config/import', doc);
      expect([res.status, res.body.updated]).toEqual([200, [{ kind: 'webhook', id: 'kept' }]]);
      expect(
        await holds(
          RESOURCES.find((d) => d.kind === 'webhook')!,
          'kept',
          'kept-secret-3333',
        ),
      ).toBe(true);
    });
  });
});

import { sql } from 'kysely';
import pg from 'pg';
import { AuditLog, type AuditEntry } from '../server/audit/audit-log';
import { changeInOneStatement, deleteInOneStatement } from '../server/control/one-statement-writes';
import { RESOURCES } from '../server/resources';
import { getResource } from '../server/store/resource-store';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

/**
 * What rides on the statement that appends audit events: the webhook outbox (which webhooks subscribe is decided in
 * SQL there) and the change notification. The gateway runs no dispatcher, so deliveries stay in the table to be read.
 */
describe.each(testDialects())('what rides on the audit append (%s)', (dialect) => {
  let t: TestGateway;
  /** Webhook name → its id, as created below. */
  const hooks = new Map<string, string>();
  const names = new Map<string, string>();
  const actor = { type: 'system', id: 'append-parts-test', name: 'append parts test' };

  const webhook = async (name: string, body: { events: string[]; tenant_id?: string; active?: boolean }) => {
    const res = await t.api('POST', '/v1/admin/webhooks', { url: `http://127.0.0.1:9/${name}`, ...body });
    expect(res.status).toBe(201);
    hooks.set(name, res.body.id);
    names.set(res.body.id, name);
  };
  /** The webhooks (by name) that got a delivery of the event, sorted, each once per delivery. */
  const recipients = async (eventId: string) =>
    (
      await t.gateway.db
        .selectFrom('webhook_deliveries')
        .select(['webhook_id', 'webhook_owner'])
        .where('event_id', '=', eventId)
        .execute()
    )
      .map((d) => `${names.get(d.webhook_id) ?? d.webhook_id}@${d.webhook_owner}`)
      .sort();
  const newestEvent = async (type: string) =>
    (await t.api('GET', `/v1/admin/audit/events?type=${type}&limit=1`)).body.data[0];
  const within = async (ms: number, check: () => boolean) => {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error(`not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  /** Deliveries of events that are not in the chain. */
  const orphans = async () =>
    (
      await sql<{ n: number }>`select count(*)::int as n from webhook_deliveries d
        where not exists (select 1 from audit_events e where e.id = d.event_id)`.execute(t.gateway.db)
    ).rows[0]!.n;
  /** Another writer of the same chain (another node): its append moves the head this gateway predicted. */
  const appendElsewhere = async () => {
    const other = new AuditLog(t.gateway.keys.auditSigningKey);
    await t.gateway.db
      .transaction()
      .execute((tx) => other.append(tx, [{ type: 'TENANT_SCOPE_VIOLATION', actor, tenant_id: null, resource: null }]));
  };

  /** What the gateway sends to PostgreSQL while `recording`, per connection. */
  const sent: { client: pg.Client; text: string; name?: string }[] = [];
  let recording = false;
  const query = pg.Client.prototype.query;
  beforeAll(async () => {
    // before the gateway starts: its pool keeps each client's query function as it was when first checked out
    if (dialect === 'postgres')
      pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
        const q = args[0] as string | { text: string; name?: string };
        if (recording) sent.push(typeof q === 'string' ? { client: this, text: q } : { client: this, ...q });
        return (query as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof query;
    t = await startTestGateway(dialect, {}, { webhooks: false });
    for (const id of ['sub-a', 'sub-b'])
      expect((await t.api('POST', '/v1/admin/tenants', { id, name: id })).status).toBe(201);
    await webhook('every', { events: ['*'] });
    await webhook('tenant-updates', { events: ['TENANT_UPDATED'] });
    await webhook('routes-only', { events: ['ROUTE_CREATED'] });
    await webhook('inactive', { events: ['*'], active: false });
    await webhook('a-keys', { tenant_id: 'sub-a', events: ['API_KEY_CREATED', 'TENANT_UPDATED'] });
    await webhook('b-every', { tenant_id: 'sub-b', events: ['*'] });
    await webhook('b-inactive', { tenant_id: 'sub-b', events: ['*'], active: false });
    await webhook('creations', { events: ['TENANT_CREATED'] });
  });
  afterAll(async () => {
    await t?.close();
    pg.Client.prototype.query = query;
  });

  test("a delivery per subscriber: the event's tenant's or global, active, its type or '*'", async () => {
    await t.api('PUT', '/v1/admin/tenants/sub-a', { name: 'Sub A' });
    const updated = await newestEvent('TENANT_UPDATED');
    expect(await recipients(updated.id)).toEqual(['a-keys@sub-a', 'every@', 'tenant-updates@']);

    expect((await t.api('POST', '/v1/admin/tenants/sub-b/keys', { name: 'k' })).status).toBe(201);
    const key = await newestEvent('API_KEY_CREATED');
    expect(key.tenant_id).toBe('sub-b');
    expect(await recipients(key.id)).toEqual(['b-every@sub-b', 'every@']);

    // an event of no tenant reaches global webhooks only
    const route = { id: 'global-r', model_pattern: 'x*', providers: [{ provider: 'openai' }] };
    expect((await t.api('POST', '/v1/admin/routes', route)).status).toBe(201);
    const created = await newestEvent('ROUTE_CREATED');
    expect(created.tenant_id).toBeNull();
    expect(await recipients(created.id)).toEqual(['every@', 'routes-only@']);

    // the body is the event as the contract says
    const delivery = await t.gateway.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('event_id', '=', key.id)
      .where('webhook_id', '=', hooks.get('every')!)
      .executeTakeFirstOrThrow();
    expect(delivery).toMatchObject({
      event_type: 'API_KEY_CREATED',
      status: 'PENDING',
      id: expect.stringMatching(/^dlv_/),
    });
    const { seq, actor: by, resource, changes, trace_id } = key;
    expect(JSON.parse(delivery.body)).toEqual({
      id: key.id,
      type: 'API_KEY_CREATED',
      created_at: key.created_at,
      tenant_id: 'sub-b',
      data: { seq, actor: by, resource, changes, trace_id },
    });
  });

  test('a change rolled back after its append queues nothing and announces nothing; committed, it does both', async () => {
    const snap = t.gateway.snapshot;
    // the stored tenant changes behind the snapshot's back: only an announcement makes the snapshot read it
    await sql`update resources set data = jsonb_set(data, '{name}', '"Unannounced"')
      where kind = 'tenant' and id = 'sub-b'`.execute(t.gateway.db);
    const entry: AuditEntry = {
      type: 'TENANT_UPDATED',
      actor,
      tenant_id: 'sub-b',
      resource: { kind: 'tenant', id: 'sub-b' },
    };
    const appendThen = (outcome: 'commit' | 'roll back') =>
      t.gateway.db.transaction().execute(async (tx) => {
        const [event] = await t.gateway.audit.append(tx, [entry]);
        if (outcome === 'roll back') throw new Error(`rolled back ${event!.id}`);
        return event!;
      });
    const queued = async () =>
      Number(
        (await sql<{ n: number }>`select count(*)::int as n from webhook_deliveries`.execute(t.gateway.db)).rows[0]!.n,
      );
    const before = await queued();
    // after its own write the gateway links on the head it predicted; after another writer's, it locks and reads it
    for (const path of ['predicted', 'locked'] as const) {
      if (path === 'predicted') await t.api('PUT', '/v1/admin/tenants/sub-a', { name: 'Sub A again' });
      else await appendElsewhere();
      const base = await queued();
      await expect(appendThen('roll back')).rejects.toThrow(/rolled back evt_/);
      expect(await queued()).toBe(base);
      await new Promise((r) => setTimeout(r, 200));
      expect(snap.get('tenant', 'sub-b')?.name).toBe('sub-b');
    }
    expect(await queued()).toBeGreaterThan(before); // the PUTs above did queue theirs
    const event = await appendThen('commit');
    expect(await recipients(event.id)).toEqual(['b-every@sub-b', 'every@', 'tenant-updates@']);
    await within(1000, () => snap.get('tenant', 'sub-b')?.name === 'Unannounced');
  });

  test('a write whose predicted head moved (another writer) queues and announces once, on the head it then reads', async () => {
    await t.api('PUT', '/v1/admin/tenants/sub-a', { name: 'Before' });
    await appendElsewhere();
    expect((await t.api('PUT', '/v1/admin/tenants/sub-a', { name: 'After' })).status).toBe(200);
    const updated = await newestEvent('TENANT_UPDATED');
    expect(updated.changes.name.to).toBe('After');
    expect(await recipients(updated.id)).toEqual(['a-keys@sub-a', 'every@', 'tenant-updates@']);
    expect(await orphans()).toBe(0); // the statement that missed queued nothing for the events it did not write
    await within(1000, () => t.gateway.snapshot.get('tenant', 'sub-a')?.name === 'After');
    expect((await t.api('GET', '/v1/admin/audit/verify')).body).toMatchObject({ valid: true });
  });

  test('an import of thousands of events (several statements) queues one delivery per subscribed event', async () => {
    const before = (await t.api('GET', '/v1/admin/audit/events?limit=1')).body.data[0].seq;
    const count = 2200; // more than one slice of the append (1,000 events)
    const tenants = Array.from({ length: count }, (_, i) => ({ id: `bulk-${i}`, name: `Bulk ${i}` }));
    const res = await t.api('POST', '/v1/admin/config/import?mode=merge', { version: 1, tenants });
    expect(res.status).toBe(200);
    const perHook = await sql<{ webhook_id: string; deliveries: number; events: number }>`
      select d.webhook_id, count(*)::int as deliveries, count(distinct d.event_id)::int as events
      from webhook_deliveries d join audit_events e on e.id = d.event_id
      where e.seq > ${before} group by d.webhook_id`.execute(t.gateway.db);
    const byName = Object.fromEntries(perHook.rows.map((r) => [names.get(r.webhook_id), [r.deliveries, r.events]]));
    // every event once to '*' (the tenants' creations and CONFIG_IMPORTED), each creation once to 'creations'
    expect(byName).toEqual({ every: [count + 1, count + 1], creations: [count, count] });
    await within(10_000, () => tenants.every((x) => t.gateway.snapshot.get('tenant', x.id)));
    expect((await t.api('GET', '/v1/admin/audit/verify')).body).toMatchObject({ valid: true });
  }, 60_000);

  /** The chain's head seq and the deliveries queued: what a refused write must leave as it was. */
  const chainAndOutbox = async () => ({
    head: Number((await sql<{ seq: string }>`select seq from audit_head`.execute(t.gateway.db)).rows[0]!.seq),
    deliveries: (await sql<{ n: number }>`select count(*)::int as n from webhook_deliveries`.execute(t.gateway.db))
      .rows[0]!.n,
  });

  test('a create with nothing to check is one statement: a taken id or unique value refuses all of it', async () => {
    await t.api('POST', '/v1/admin/tenants', { id: 'one-a', name: 'One A' }); // the head is predicted
    const before = await chainAndOutbox();
    const taken = await t.api('POST', '/v1/admin/tenants', { id: 'one-a', name: 'Again' });
    expect([taken.status, taken.body.error.code, taken.body.error.details]).toEqual([
      409,
      'ALREADY_EXISTS',
      [{ path: 'id', message: 'is taken' }],
    ]);
    expect(await chainAndOutbox()).toEqual(before);
    expect((await t.api('GET', '/v1/admin/tenants/one-a')).body.name).toBe('One A');

    // a unique value (pricing: one entry per provider and model)
    const price = { provider: 'openai', model: 'one-statement', input_per_million_usd: 1, output_per_million_usd: 2 };
    expect((await t.api('POST', '/v1/admin/pricing', price)).status).toBe(201);
    const afterPrice = await chainAndOutbox();
    const clash = await t.api('POST', '/v1/admin/pricing', { ...price, input_per_million_usd: 3 });
    expect([clash.status, clash.body.error.code, clash.body.error.details]).toEqual([
      409,
      'ALREADY_EXISTS',
      [{ path: '', message: 'must be unique' }],
    ]);
    expect(await chainAndOutbox()).toEqual(afterPrice);

    // the next create links on the head as it is (the refused statement moved nothing)
    expect((await t.api('POST', '/v1/admin/tenants', { id: 'one-b', name: 'One B' })).status).toBe(201);
    expect(await recipients((await newestEvent('TENANT_CREATED')).id)).toEqual(['creations@', 'every@']);
    await within(1000, () => t.gateway.snapshot.get('tenant', 'one-b')?.name === 'One B');
    expect((await t.api('GET', '/v1/admin/audit/verify')).body).toMatchObject({ valid: true });
  });

  test('a create whose predicted head moved (another writer) is made in a transaction instead, once', async () => {
    await t.api('POST', '/v1/admin/tenants', { id: 'moved-a', name: 'Moved A' });
    await appendElsewhere();
    const before = await chainAndOutbox();
    expect((await t.api('POST', '/v1/admin/tenants', { id: 'moved-b', name: 'Moved B' })).status).toBe(201);
    // one event after the other writer's, one delivery to each of its two subscribers
    expect(await chainAndOutbox()).toEqual({ head: before.head + 1, deliveries: before.deliveries + 2 });
    const created = await newestEvent('TENANT_CREATED');
    expect([created.seq, created.resource]).toEqual([before.head + 1, { kind: 'tenant', id: 'moved-b' }]);
    expect(await recipients(created.id)).toEqual(['creations@', 'every@']);
    await within(1000, () => t.gateway.snapshot.get('tenant', 'moved-b')?.name === 'Moved B');
    expect((await t.api('GET', '/v1/admin/audit/verify')).body).toMatchObject({ valid: true });
  });

  test('one-statement creates among transactional writes, more at once than the pool has connections', async () => {
    // a one-statement create takes its connection before its place among the chained writes: the transactional ones
    // ahead of it hold theirs until their turn (taking the place first left them all waiting on it: a deadlock). A key
    // naming a tier is made in a transaction (the tier is found and locked); one without, in one statement.
    const tier = { id: 'mixed-base', limit: 10, window_secs: 60 };
    expect((await t.api('POST', '/v1/admin/rate-limit-tiers', tier)).status).toBe(201);
    const writes = Array.from({ length: 48 }, (_, i) =>
      i % 3 === 0
        ? t.api('POST', '/v1/admin/rate-limit-tiers', { id: `mixed-${i}`, limit: 10, window_secs: 60 })
        : t.api('POST', '/v1/admin/tenants/sub-a/keys', {
            name: `mixed-${i}`,
            ...(i % 3 === 1 ? { rate_limit_tier: tier.id } : {}),
          }),
    );
    expect((await Promise.all(writes)).map((r) => r.status)).toEqual(Array(48).fill(201));
    expect((await t.api('GET', '/v1/admin/audit/verify')).body).toMatchObject({ valid: true });
  }, 30_000);

  test('one-statement creates at once go together (group commit); a refused one is made alone, the rest too', async () => {
    const before = await chainAndOutbox();
    const ids = Array.from({ length: 24 }, (_, i) => `group-${i}`);
    const statuses = await Promise.all(
      ids.map((id) => t.api('POST', '/v1/admin/tenants', { id, name: id.toUpperCase() }).then((r) => r.status)),
    );
    expect(statuses).toEqual(ids.map(() => 201));
    // one event and two deliveries ('every', 'creations') per tenant, each event naming its own tenant once
    expect(await chainAndOutbox()).toEqual({ head: before.head + 24, deliveries: before.deliveries + 48 });
    const events = (await t.api('GET', '/v1/admin/audit/events?type=TENANT_CREATED&limit=24')).body.data;
    expect(events.map((e: { resource: { id: string } }) => e.resource.id).sort()).toEqual([...ids].sort());
    for (const id of ids) expect((await t.api('GET', `/v1/admin/tenants/${id}`)).body.name).toBe(id.toUpperCase());

    // a taken id among them: its create alone is refused, the others are made
    const again = [...ids.slice(0, 1), 'group-new-a', 'group-new-b', 'group-new-c'];
    const results = await Promise.all(
      again.map((id) => t.api('POST', '/v1/admin/tenants', { id, name: 'Second' }).then((r) => r.status)),
    );
    expect(results).toEqual([409, 201, 201, 201]);
    expect((await t.api('GET', '/v1/admin/tenants/group-0')).body.name).toBe('GROUP-0');
    await within(2000, () => again.slice(1).every((id) => t.gateway.snapshot.get('tenant', id)?.name === 'Second'));
    expect((await chainAndOutbox()).head).toBe(before.head + 27);
    expect((await t.api('GET', '/v1/admin/audit/verify')).body).toMatchObject({ valid: true });
  });

  test('a group the database refuses (one taken id) is made again write by write: that one 409, the rest 201', async () => {
    await t.api('POST', '/v1/admin/tenants', { id: 'held-0', name: 'Held' }); // the head is predicted
    // a transaction holds the chain's head: the next write's statement waits in the database until it commits
    let release!: () => void;
    let held!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const holdingHead = new Promise<void>((resolve) => (held = resolve));
    const holding = t.gateway.db.transaction().execute(async (tx) => {
      await t.gateway.audit.append(tx, [{ type: 'TENANT_SCOPE_VIOLATION', actor, tenant_id: null, resource: null }]);
      held();
      await gate;
    });
    await holdingHead;
    const pause = () => new Promise((r) => setTimeout(r, 100));
    const create = (id: string) => t.api('POST', '/v1/admin/tenants', { id, name: 'Held' }).then((r) => r.status);
    sent.length = 0;
    recording = true;
    try {
      const first = create('held-1'); // sent, waiting on the held head
      await pause();
      const taken = create('held-0'); // waits for its turn with a connection: the group's first
      await pause();
      const rest = [create('held-2'), create('held-3')]; // join it
      await pause();
      release();
      await holding;
      expect([await first, await taken, ...(await Promise.all(rest))]).toEqual([201, 409, 201, 201]);
    } finally {
      recording = false;
      release();
    }
    if (dialect === 'postgres') {
      const inserts = (text: string) => text.match(/insert into resources/g)?.length ?? 0;
      expect(sent.some((s) => /^with moved as/i.test(s.text.trim()) && inserts(s.text) === 3)).toBe(true);
    }
    await within(2000, () => ['held-1', 'held-2', 'held-3'].every((id) => t.gateway.snapshot.get('tenant', id)));
    expect((await t.api('GET', '/v1/admin/audit/verify')).body).toMatchObject({ valid: true });
  });

  const postgres = dialect === 'postgres' ? test : test.skip;
  postgres('a tenant create sends one statement: its INSERT rides on the append, a delivery queued', async () => {
    await t.api('POST', '/v1/admin/tenants', { id: 'warm', name: 'Warm' }); // the gateway's last write: the head is predicted
    sent.length = 0;
    recording = true;
    try {
      expect((await t.api('POST', '/v1/admin/tenants', { id: 'counted', name: 'Counted' })).status).toBe(201);
    } finally {
      recording = false;
    }
    // what the write sent (the snapshot's read of the change it is told of comes after, on its own connection)
    const writes = sent.filter((s) => !/^(select|begin|commit|rollback)\b/i.test(s.text.trim()));
    expect(writes.map((s) => s.text.trim().split(/\s+/).slice(0, 3).join(' '))).toEqual(['with moved as']);
    expect(writes[0]!.text).toMatch(/insert into resources/);
    // prepared: planned once per connection, then only bound and run
    expect(writes[0]!.name).toMatch(/^portico_\d+$/);
    expect(await recipients((await newestEvent('TENANT_CREATED')).id)).toEqual(['creations@', 'every@']);
  });
  postgres('16 tenant creates at once take fewer append statements than creates', async () => {
    sent.length = 0;
    recording = true;
    try {
      const made = await Promise.all(
        Array.from({ length: 16 }, (_, i) => t.api('POST', '/v1/admin/tenants', { id: `few-${i}`, name: 'Few' })),
      );
      expect(made.map((r) => r.status)).toEqual(Array(16).fill(201));
    } finally {
      recording = false;
    }
    const appends = sent.filter((s) => /^with moved as/i.test(s.text.trim())).length;
    expect(appends).toBeLessThan(16);
    // none made in a transaction (whose INSERT is a statement of its own; the gateway's jobs may send BEGIN meanwhile)
    expect(sent.filter((s) => /^insert into "resources"/i.test(s.text.trim())).length).toBe(0);
  });
  postgres(
    'concurrent transactional creates chain on each other: one append statement each, the head rarely locked and read',
    async () => {
      const count = 32;
      const before = Number(
        (await sql<{ seq: string }>`select seq from audit_head`.execute(t.gateway.db)).rows[0]!.seq,
      );
      sent.length = 0;
      recording = true;
      let statuses: number[];
      try {
        statuses = await Promise.all(
          Array.from({ length: count }, (_, i) =>
            // a global service: its id is checked against tenants' in its transaction
            t
              .api('POST', '/v1/admin/services', { id: `chained-${i}`, name: 'svc', target_url: 'http://127.0.0.1:9' })
              .then((r) => r.status),
          ),
        );
      } finally {
        recording = false;
      }
      expect(statuses).toEqual(Array(count).fill(201));
      const appends = sent.filter((s) => /^with moved as/i.test(s.text.trim())).length;
      const lockedReads = sent.filter((s) => /for update/i.test(s.text)).length;
      // each write links on the one before it as soon as that one is sent, instead of locking and reading the head
      // (which every write but the first did while another was on its way); a statement overtaking the one it links
      // on misses, and that write then locks and reads
      expect(appends).toBeGreaterThanOrEqual(count);
      expect(lockedReads).toBeLessThanOrEqual(count / 4);
      const after = Number((await sql<{ seq: string }>`select seq from audit_head`.execute(t.gateway.db)).rows[0]!.seq);
      expect(after - before).toBe(count);
      expect((await t.api('GET', '/v1/admin/audit/verify')).body).toMatchObject({ valid: true });
    },
  );

  /**
   * The statements sent that write, by their first words: not plain reads, nor BEGIN and COMMIT, which the gateway's
   * own jobs may send meanwhile around reads (a write made in a transaction shows by its UPDATE or INSERT).
   */
  const writesOf = (texts: typeof sent) =>
    texts
      .filter((s) => !/^(select|begin|commit|rollback)\b/i.test(s.text.trim()))
      .map((s) => s.text.trim().split(/\s+/).slice(0, 3).join(' '));
  const recorded = async <T>(work: () => Promise<T>): Promise<T> => {
    sent.length = 0;
    recording = true;
    try {
      return await work();
    } finally {
      recording = false;
    }
  };

  test('an update, an action and a delete with nothing to check are one statement after their read', async () => {
    expect((await t.api('POST', '/v1/admin/tenants', { id: 'upd-a', name: 'Upd A' })).status).toBe(201);
    const updated = await recorded(() => t.api('PUT', '/v1/admin/tenants/upd-a', { name: 'Upd A2' }));
    expect([updated.status, updated.body.name]).toEqual([200, 'Upd A2']);
    if (dialect === 'postgres') expect(writesOf(sent)).toEqual(['with checked as']);
    const event = await newestEvent('TENANT_UPDATED');
    expect([event.resource, event.changes]).toEqual([
      { kind: 'tenant', id: 'upd-a' },
      { name: { from: 'Upd A', to: 'Upd A2' } },
    ]);
    expect(await recipients(event.id)).toEqual(['every@', 'tenant-updates@']);
    await within(1000, () => t.gateway.snapshot.get('tenant', 'upd-a')?.name === 'Upd A2');

    // an action: a token's revocation (refused again once revoked: the state it needs is checked on the row read)
    const token = (await t.api('POST', '/v1/admin/tokens', { name: 'one', role: 'owner' })).body;
    const revoked = await recorded(() => t.api('POST', `/v1/admin/tokens/${token.id}/revoke`));
    expect([revoked.status, revoked.body.status]).toEqual([200, 'REVOKED']);
    if (dialect === 'postgres') expect(writesOf(sent)).toEqual(['with checked as']);
    expect((await t.api('POST', `/v1/admin/tokens/${token.id}/revoke`)).status).toBe(409);
    expect((await newestEvent('TOKEN_REVOKED'))?.resource).toEqual({ kind: 'token', id: token.id });

    // a delete
    const price = { provider: 'openai', model: 'one-delete', input_per_million_usd: 1, output_per_million_usd: 2 };
    const made = (await t.api('POST', '/v1/admin/pricing', price)).body;
    const deleted = await recorded(() => t.api('DELETE', `/v1/admin/pricing/${made.id}`));
    expect(deleted.status).toBe(204);
    if (dialect === 'postgres') expect(writesOf(sent)).toEqual(['with checked as']);
    expect((await t.api('GET', `/v1/admin/pricing/${made.id}`)).status).toBe(404);
    const gone = await newestEvent('PRICING_DELETED');
    expect([gone.resource, gone.changes.model]).toEqual([
      { kind: 'pricing', id: made.id },
      { from: 'one-delete', to: null },
    ]);
    expect((await t.api('GET', '/v1/admin/audit/verify')).body).toMatchObject({ valid: true });
  });

  test("a tenant's key is one statement where the tenant stands; none outlives the tenant's delete", async () => {
    const made = await recorded(() => t.api('POST', '/v1/admin/tenants/sub-a/keys', { name: 'one-statement' }));
    expect(made.status).toBe(201);
    if (dialect === 'postgres') expect(writesOf(sent)).toEqual(['with checked as']);
    expect((await newestEvent('API_KEY_CREATED')).resource).toEqual({ kind: 'api_key', id: made.body.id });
    // no such tenant: the statement writes nothing, and the transaction says why
    const nowhere = await t.api('POST', '/v1/admin/tenants/no-such/keys', { name: 'k' });
    expect([nowhere.status, nowhere.body.error.code]).toEqual([404, 'NOT_FOUND']);

    // keys made while their tenant is deleted with what it owns: each is made before (and deleted with it) or refused
    // (a key left behind would be a new tenant's of the same id); half of them name a tier: made in a transaction
    const tier = { id: 'doomed-tier', limit: 10, window_secs: 60 };
    expect((await t.api('POST', '/v1/admin/rate-limit-tiers', tier)).status).toBe(201);
    expect((await t.api('POST', '/v1/admin/tenants', { id: 'doomed-keys', name: 'Doomed' })).status).toBe(201);
    const creates = Array.from({ length: 16 }, (_, i) =>
      t
        .api('POST', '/v1/admin/tenants/doomed-keys/keys', {
          name: `k${i}`,
          ...(i % 2 ? { rate_limit_tier: tier.id } : {}),
        })
        .then((r) => r.status),
    );
    const removed = t.api('DELETE', '/v1/admin/tenants/doomed-keys?cascade=true').then((r) => r.status);
    const statuses = await Promise.all(creates);
    expect(await removed).toBe(204);
    expect(statuses.every((s) => s === 201 || s === 404)).toBe(true);
    const left = await sql<{ n: number }>`select count(*)::int as n from resources
      where tenant_id = 'doomed-keys' or (kind = 'tenant' and id = 'doomed-keys')`.execute(t.gateway.db);
    expect(left.rows[0]!.n).toBe(0);
    expect((await t.api('GET', '/v1/admin/audit/verify')).body).toMatchObject({ valid: true });
  });

  test('a change of a row that changed since it was read writes nothing, and the head stays predicted', async () => {
    const tenant = RESOURCES.find((d) => d.kind === 'tenant')!;
    expect((await t.api('POST', '/v1/admin/tenants', { id: 'stale', name: 'Read' })).status).toBe(201);
    const read = (await getResource(t.gateway.db, { kind: 'tenant', id: 'stale', tenant_id: null }))!;
    expect((await t.api('PUT', '/v1/admin/tenants/stale', { name: 'Changed' })).status).toBe(200);
    const before = await chainAndOutbox();
    const entry: AuditEntry = {
      type: 'TENANT_UPDATED',
      actor,
      tenant_id: 'stale',
      resource: { kind: 'tenant', id: 'stale' },
    };
    const next = { data: { ...read.data, name: 'Stale' }, events: [entry] };
    expect(await changeInOneStatement(t.gateway, tenant, read, next)).toBeUndefined();
    expect(await deleteInOneStatement(t.gateway, read, [entry])).toBe(false);
    expect(await chainAndOutbox()).toEqual(before);
    expect((await t.api('GET', '/v1/admin/tenants/stale')).body.name).toBe('Changed');
    // read again, it goes through
    const fresh = (await getResource(t.gateway.db, { kind: 'tenant', id: 'stale', tenant_id: null }))!;
    const done = await recorded(() =>
      changeInOneStatement(t.gateway, tenant, fresh, { data: { ...fresh.data, name: 'Fresh' }, events: [entry] }),
    );
    expect(done?.data.name).toBe('Fresh');
    // on the head it predicted: nothing locked or read first
    if (dialect === 'postgres') expect(writesOf(sent)).toEqual(['with checked as']);
    expect(await chainAndOutbox()).toEqual({ head: before.head + 1, deliveries: before.deliveries + 2 });
    expect((await t.api('GET', '/v1/admin/audit/verify')).body).toMatchObject({ valid: true });
  });

  test('an update whose predicted head moved (another writer) is made in a transaction instead, once', async () => {
    expect((await t.api('POST', '/v1/admin/tenants', { id: 'upd-moved', name: 'One' })).status).toBe(201);
    await appendElsewhere();
    const before = await chainAndOutbox();
    expect((await t.api('PUT', '/v1/admin/tenants/upd-moved', { name: 'Two' })).status).toBe(200);
    expect(await chainAndOutbox()).toEqual({ head: before.head + 1, deliveries: before.deliveries + 2 });
    const updated = await newestEvent('TENANT_UPDATED');
    expect([updated.seq, updated.changes]).toEqual([before.head + 1, { name: { from: 'One', to: 'Two' } }]);
    expect(await orphans()).toBe(0);
    await within(1000, () => t.gateway.snapshot.get('tenant', 'upd-moved')?.name === 'Two');
  });

  test('concurrent updates of one resource: each made once, on the state the one before it left', async () => {
    expect((await t.api('POST', '/v1/admin/tenants', { id: 'race', name: 'start' })).status).toBe(201);
    const names = Array.from({ length: 12 }, (_, i) => `n${i}`);
    const statuses = await Promise.all(
      names.map((name) => t.api('PUT', '/v1/admin/tenants/race', { name }).then((r) => r.status)),
    );
    expect(statuses).toEqual(names.map(() => 200));
    const events = (
      await t.gateway.db
        .selectFrom('audit_events')
        .select(['seq', 'changes'])
        .where('type', '=', 'TENANT_UPDATED')
        .where('resource_id', '=', 'race')
        .orderBy('seq')
        .execute()
    ).map((e) => (e.changes as { name: { from: string; to: string } }).name);
    // every update's event, and each one's "from" is what the one before it made: no update lost, none told twice
    expect(events.map((e) => e.to).sort()).toEqual([...names].sort());
    events.forEach((e, i) => expect(e.from).toBe(i === 0 ? 'start' : events[i - 1]!.to));
    expect((await t.api('GET', '/v1/admin/tenants/race')).body.name).toBe(events[events.length - 1]!.to);
    expect((await t.api('GET', '/v1/admin/audit/verify')).body).toMatchObject({ valid: true });
  });

  test('one-statement changes among transactional writes of the same rows, more at once than the pool has connections', async () => {
    // a key's revocation rides on the append; an update naming a tier is a transaction holding the key's row meanwhile
    const tier = { id: 'mixed-tier', limit: 10, window_secs: 60 };
    expect((await t.api('POST', '/v1/admin/rate-limit-tiers', tier)).status).toBe(201);
    const keys: string[] = [];
    for (let i = 0; i < 12; i++)
      keys.push((await t.api('POST', '/v1/admin/tenants/sub-a/keys', { name: `k${i}` })).body.id);
    const writes = keys.flatMap((id, i) => [
      t.api('PUT', `/v1/admin/tenants/sub-a/keys/${id}`, { name: `m${i}`, rate_limit_tier: tier.id }),
      t.api('POST', `/v1/admin/tenants/sub-a/keys/${id}/revoke`),
      t.api('PUT', '/v1/admin/tenants/sub-b', { name: `b${i}` }),
    ]);
    expect((await Promise.all(writes)).map((r) => r.status)).toEqual(Array(36).fill(200));
    for (const [i, id] of keys.entries())
      expect((await t.api('GET', `/v1/admin/tenants/sub-a/keys/${id}`)).body).toMatchObject({
        name: `m${i}`,
        rate_limit_tier: tier.id,
        status: 'REVOKED',
      });
    expect((await t.api('GET', '/v1/admin/audit/verify')).body).toMatchObject({ valid: true });
  }, 30_000);

  (dialect === 'postgres' ? test : test.skip)(
    '16 updates at once take fewer append statements than updates',
    async () => {
      const ids = Array.from({ length: 16 }, (_, i) => `upd-few-${i}`);
      for (const id of ids) expect((await t.api('POST', '/v1/admin/tenants', { id, name: 'Before' })).status).toBe(201);
      const statuses = await recorded(() =>
        Promise.all(ids.map((id) => t.api('PUT', `/v1/admin/tenants/${id}`, { name: 'After' }).then((r) => r.status))),
      );
      expect(statuses).toEqual(ids.map(() => 200));
      expect(writesOf(sent).filter((w) => w === 'with checked as').length).toBeLessThan(16);
      expect(sent.filter((s) => /^update "resources"/i.test(s.text.trim())).length).toBe(0); // none in a transaction
      for (const id of ids) expect((await t.api('GET', `/v1/admin/tenants/${id}`)).body.name).toBe('After');
      expect((await t.api('GET', '/v1/admin/audit/verify')).body).toMatchObject({ valid: true });
    },
  );
});

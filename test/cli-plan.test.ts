import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml, parse as parseYaml } from 'yaml';
import { paintFor } from '../cli/plan-render';
import { testDialects } from './support/databases';
import { OWNER_TOKEN, startTestGateway, type TestGateway } from './support/gateway';

const ROOT = join(__dirname, '..');

/** Runs the real `portico` command (a child process, no TTY) against the test gateway; never throws. */
function portico(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      'node',
      [join(ROOT, 'cli/portico.js'), ...args],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '', ...env }, timeout: 60000 },
      (error, out, err) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out, err }),
    );
  });
}

/** A loopback port nothing listens on (just freed). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Synthesizes the repository's CDKTF app (stacks/main.ts) into `outdir`, as `cdktf synth` does. */
function synth(outdir: string): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(
      'node',
      [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'stacks/main.ts'],
      { cwd: ROOT, env: { ...process.env, CDKTF_OUTDIR: outdir }, timeout: 120000 },
      (error, _o, err) => (error ? reject(new Error(err)) : resolve()),
    ),
  );
}

describe.each(testDialects())('portico plan / apply (%s)', (dialect) => {
  // every step is a real `portico` process (tsx start-up included): slow on a shared machine
  jest.setTimeout(240_000);
  let t: TestGateway;
  let env: Record<string, string>;
  let dir: string;
  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    const endpoint = await t.admin.listen({ host: '127.0.0.1', port: 0 });
    env = { PORTICO_ENDPOINT: endpoint, PORTICO_TOKEN: OWNER_TOKEN };
    dir = mkdtempSync(join(tmpdir(), 'portico-plan-'));
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const ids = async () =>
    (
      await t.gateway.db
        .selectFrom('resources')
        .select(['kind', 'tenant_id', 'id'])
        .orderBy('kind')
        .orderBy('id')
        .execute()
    ).map((r) => `${r.kind}:${r.tenant_id ?? '-'}/${r.id}`);
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
    return path;
  };

  test('YAML: plan shows the per-field diff (exit 2), apply --yes writes it with an audit event, a second plan is exit 0', async () => {
    const file = write(
      'fleet.yaml',
      toYaml({
        tenants: [{ id: 'acme', name: 'Acme' }],
        routes: [{ id: 'pay', tenant_id: 'acme', path_prefix: '/pay', backend_url: 'https://pay.example.com' }],
        webhooks: [
          {
            id: 'ops',
            url: 'https://hooks.example.com/x',
            events: ['*'],
            secret: 'whsec_from_the_file_123',
            secret_version: 1,
          },
        ],
      }),
    );
    const plan = await portico(['plan', file], env);
    expect([plan.code, plan.err]).toEqual([2, '']);
    expect(plan.out).toContain('tenant:\n  + tenant acme\n');
    expect(plan.out).toContain('  + route acme/pay\n');
    expect(plan.out).toContain('      path_prefix: "/pay"\n');
    expect(plan.out).toContain('      secret: (sensitive)\n');
    expect(plan.out).not.toContain('whsec_from_the_file');
    expect(plan.out).not.toMatch(/\x1b\[/); // not a terminal: no colors
    expect(plan.out.trimEnd().split('\n').at(-1)).toBe('Plan: 3 to create, 0 to update, 0 to delete, 0 unchanged.');
    expect(await ids()).toEqual([]);

    const apply = await portico(['apply', file, '--yes'], env);
    expect(apply.code).toBe(0);
    const eventId = /Audit event: (evt_[0-9a-f-]+)/.exec(apply.out)?.[1];
    const event = (await t.api('GET', '/v1/admin/audit/events?type=CONFIG_IMPORTED&limit=1')).body.data[0];
    expect(event).toMatchObject({ id: eventId, changes: { mode: 'merge', created: 3 } });
    expect(await ids()).toEqual(['route:acme/pay', 'tenant:-/acme', 'webhook:-/ops']);

    const again = await portico(['plan', file], env);
    expect([again.code, again.out.trim()]).toEqual([0, 'No changes. The gateway matches the input (3 unchanged).']);

    writeFileSync(file, readFileSync(file, 'utf8').replace('name: Acme', 'name: Acme Corp'));
    const changed = await portico(['plan', file, '--json'], env);
    expect(changed.code).toBe(2);
    expect(JSON.parse(changed.out).changes).toEqual([
      {
        op: 'update',
        kind: 'tenant',
        id: 'acme',
        tenant_id: null,
        changes: [{ path: 'name', before: 'Acme', after: 'Acme Corp' }],
      },
    ]);
    expect((await portico(['plan', file], env)).out).toContain('  ~ tenant acme\n      name: "Acme" → "Acme Corp"\n');
  });

  test('a directory of documents is merged; the same item in two files names both', async () => {
    write('dir/tenants.json', JSON.stringify({ tenants: [{ id: 'beta', name: 'Beta' }] }));
    write(
      'dir/routes.yml',
      toYaml({ routes: [{ id: 'b1', tenant_id: 'beta', path_prefix: '/b1', backend_url: 'https://b.example.com' }] }),
    );
    write('dir/notes.txt', 'not a document');
    expect((await portico(['apply', join(dir, 'dir'), '--yes'], env)).code).toBe(0);
    expect(await ids()).toEqual(expect.arrayContaining(['route:beta/b1', 'tenant:-/beta']));
    expect((await portico(['plan', join(dir, 'dir')], env)).code).toBe(0);
    write('dir/more.yaml', toYaml({ tenants: [{ id: 'beta', name: 'Beta again' }] }));
    const dup = await portico(['plan', join(dir, 'dir')], env);
    expect([dup.code, dup.err.trim()]).toEqual([
      1,
      `portico: tenants item "/beta" appears in both ${join(dir, 'dir/more.yaml')} and ${join(dir, 'dir/tenants.json')}`,
    ]);
  });

  test('replace of a tenant export deletes what the file lacks inside that tenant, and nothing outside it', async () => {
    const file = join(dir, 'acme.yaml');
    expect((await portico(['export', '--tenant', 'acme', '--format', 'yaml', '-o', file], env)).code).toBe(0);
    const doc = parseYaml(readFileSync(file, 'utf8'));
    expect(doc.tenant_id).toBe('acme');
    expect((await portico(['plan', file, '--mode', 'replace'], env)).code).toBe(0);
    await t.api('POST', '/v1/admin/routes', {
      id: 'extra',
      tenant_id: 'acme',
      path_prefix: '/extra',
      backend_url: 'https://e.example.com',
    });
    const before = await ids();
    const plan = await portico(['plan', file, '--mode', 'replace'], env);
    expect(plan.code).toBe(2);
    expect(plan.out).toContain('  - route acme/extra\n');
    expect(plan.out).toContain('Plan: 0 to create, 0 to update, 1 to delete, 2 unchanged.');
    expect((await portico(['apply', file, '--mode', 'replace', '--yes'], env)).code).toBe(0);
    expect(await ids()).toEqual(before.filter((x) => x !== 'route:acme/extra'));
  });

  test('an invalid document fails before anything is written, naming the entry', async () => {
    const before = await ids();
    const file = write(
      'bad.yaml',
      toYaml({
        tenants: [{ id: 'gamma', name: 'Gamma' }],
        routes: [{ id: 'r', model_pattern: 'x*', providers: [{ model: 'm' }] }],
      }),
    );
    for (const command of ['plan', 'apply']) {
      const res = await portico([command, file, '--yes'].slice(0, command === 'plan' ? 2 : 3), env);
      expect([command, res.code, res.out]).toEqual([command, 1, '']);
      expect(res.err).toContain('routes.0.providers.0.provider: is required');
    }
    expect(await ids()).toEqual(before);
  });

  test('exit 1 with one clear line: no token, a wrong token, no gateway, a file that does not parse, apply without a terminal', async () => {
    const file = write('ok.json', JSON.stringify({ tenants: [{ id: 'delta', name: 'Delta' }] }));
    const closed = await closedPort();
    const cases: [string[], Record<string, string | undefined>, RegExp][] = [
      [['plan', file], { PORTICO_TOKEN: '' }, /^portico: no admin token: set PORTICO_TOKEN/],
      [['plan', file], { PORTICO_TOKEN: 'not-the-token-0000000' }, /refused the token \(401\): check PORTICO_TOKEN$/],
      [
        ['export'],
        { PORTICO_ENDPOINT: `http://127.0.0.1:${closed}` },
        new RegExp(`^portico: cannot reach the admin API at http://127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\)`),
      ],
      [['plan', write('broken.yaml', 'tenants: [\n')], {}, /broken\.yaml: not valid YAML: /],
      [['plan', write('broken.json', '{"tenants": ')], {}, /broken\.json: not valid JSON: /],
      [['plan', join(dir, 'missing.json')], {}, /missing\.json: no such file or directory$/],
      [['apply', file], {}, /^portico: stdin is not a terminal, so apply cannot ask: pass --yes to apply$/],
      [['plan', file, '--mode', 'sync'], {}, /^portico: --mode must be merge or replace$/],
    ];
    for (const [args, extra, message] of cases) {
      const res = await portico(args, { ...env, ...extra });
      expect([args, res.code, res.err.trim().split('\n').length]).toEqual([args, 1, 1]);
      expect(res.err.trim()).toMatch(message);
    }
    expect(await ids()).not.toContain('tenant:-/delta');
    expect((await portico(['import', file, '--dry-run'], env)).code).toBe(0);
    expect(await ids()).not.toContain('tenant:-/delta');
    const imported = await portico(['import', file], env);
    expect(JSON.parse(imported.out)).toMatchObject({
      created: [{ kind: 'tenant', id: 'delta' }],
      audit_event_id: expect.stringMatching(/^evt_/),
    });
  });

  test('a synthesized CDKTF stack (stacks/main.ts): plan, apply, then no changes; what it cannot resolve is named', async () => {
    const out = join(dir, 'cdktf.out');
    await synth(out);
    const tenantStack = join(out, 'stacks/tenant-acme2/cdk.tf.json');
    // stacks/main.ts makes tenant "acme", which an earlier test holds with other routes: rename it in a copy
    const acme = readFileSync(join(out, 'stacks/tenant-acme/cdk.tf.json'), 'utf8')
      .replace(/"acme"/g, '"acme2"')
      .replace(/\/apis\/acme\//g, '/apis/acme2/');
    write('cdktf.out/stacks/tenant-acme2/cdk.tf.json', acme);
    rmSync(join(out, 'stacks/tenant-acme'), { recursive: true });
    const plan = await portico(['plan', tenantStack], env);
    expect(plan.code).toBe(2);
    expect(plan.err).toContain(
      'note: portico_api_key.onboarding_key-production_0BF9CF6E: left out: API keys are not part of a config document',
    );
    expect(plan.out).toContain(
      '  + route acme2/acme-payments\n      auth_required: true\n      backend_url: "https://payments.example.com"\n',
    );
    expect(plan.out).toContain('  + budget acme2/onboarding_budget_a3bae714\n');
    expect((await portico(['apply', out, '--yes'], env)).code).toBe(0);
    expect(await ids()).toEqual(
      expect.arrayContaining([
        'tenant:-/acme2',
        'route:acme2/acme-payments',
        'route:-/global-gpt',
        'webhook:-/platform-audit',
        'budget:acme2/onboarding_budget_a3bae714',
      ]),
    );
    expect((await portico(['plan', out], env)).code).toBe(0);

    const stack = JSON.parse(acme);
    stack.resource.portico_route.payments.backend_url = '${aws_lb.front.dns_name}';
    stack.resource.portico_budget.onboarding_budget_A3BAE714.limit_usd = '${var.budget}';
    stack.resource.portico_tenant.onboarding_tenant_89E1A4F8.name = '${upper("acme")}';
    stack.variable = { budget: { type: 'number' } };
    const bad = await portico(['plan', write('bad-stack/cdk.tf.json', JSON.stringify(stack))], env);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('portico_route.payments.backend_url: refers to aws_lb.front, which is not in this stack');
    expect(bad.err).toContain('portico_budget.onboarding_budget_A3BAE714.limit_usd: variable "budget" has no default');
    expect(bad.err).toContain(
      'portico_tenant.onboarding_tenant_89E1A4F8.name: uses the Terraform expression ${upper("acme")}',
    );
  });
});

test('colors only on a terminal, and NO_COLOR turns them off', () => {
  expect(paintFor({ isTTY: true }, {}).green('+')).toBe('\x1b[32m+\x1b[0m');
  expect(paintFor({ isTTY: true }, { NO_COLOR: '1' }).green('+')).toBe('+');
  expect(paintFor({ isTTY: false }, {}).green('+')).toBe('+');
});

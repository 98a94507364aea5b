import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../constructs';
import { TerraformDataSource, TerraformResource } from '../constructs/cdktf';
import { DATA_MODELS, MODELS, type ResourceModel } from '../provider/schema';
import { CDKTF, exec, TSX } from './support/cdktf';
import { startGatewayForTerraform, TerraformDir, terraformAvailable, type TerraformGateway } from './support/terraform';

const ROOT = join(__dirname, '..');
const TOKEN = 'cdktf-hcl-token-0123456789';
/** Quotes, a backslash, a newline and non-ASCII: what an HCL string literal must escape, or keep, right. */
const AWKWARD = 'Line one says "hi" \\ back\nline two: café';

/** One of every construct, each argument set at least once (checked below), in `stack`. */
function everyConstruct(stack: c.TerraformStack, endpoint: string) {
  new c.PorticoProvider(stack, 'portico', { endpoint, token: TOKEN });
  const tier = new c.RateLimitTier(stack, 'tier', {
    id: 'silver',
    description: AWKWARD,
    limit: 5,
    windowSecs: 60,
    dailyQuota: 1000,
    monthlyQuota: null,
  });
  const tenant = new c.Tenant(stack, 'tenant', {
    id: 'acme',
    name: 'Acme "Corp"',
    status: 'ACTIVE',
    region: 'eu-west',
    metadata: { team: 'a"b', 'cost.center': '42' },
    forceDestroy: true,
  });
  const key = new c.ApiKey(stack, 'key', {
    tenantId: tenant.id,
    name: 'prod',
    rateLimitTier: tier.id,
    expiresAt: '2099-01-01T00:00:00Z',
    metadata: {},
  });
  new c.Token(stack, 'token', { tenantId: tenant.id, name: 'ci', role: 'developer', expiresAt: null });
  const cred = new c.Credential(stack, 'cred', {
    id: 'openai-acme',
    tenantId: tenant.id,
    name: 'OpenAI',
    providerName: 'openai',
    apiKeyWo: 'sk-test-1234567890',
    apiKeyWoVersion: 1,
  });
  new c.Pricing(stack, 'price', {
    id: 'gpt-4o',
    providerName: 'openai',
    model: 'gpt-4o',
    inputPerMillionUsd: 2.5,
    outputPerMillionUsd: 10,
  });
  const svc = new c.Service(stack, 'svc', {
    id: 'billing',
    tenantId: tenant.id,
    name: 'Billing',
    targetUrl: 'http://127.0.0.1:9/billing',
    healthCheckPath: '/healthz',
    healthCheckIntervalSecs: 15,
    timeoutMs: 5000,
    deletedAt: null,
  });
  const llm = new c.Route(stack, 'llm', {
    id: 'gpt',
    tenantId: tenant.id,
    description: AWKWARD,
    enabled: true,
    priority: -3,
    modelPattern: 'gpt*',
    strategy: 'weighted',
    providers: [
      { provider: 'openai', model: 'gpt-4o', credentialId: cred.id, weight: 3, timeoutMs: 1000 },
      { provider: 'azure', baseUrl: 'https://azure.example.com/v1', model: null },
    ],
    timeoutMs: 20_000,
    rateLimit: { limit: 10, windowSecs: 60 },
    circuitBreaker: { failureThreshold: 3, cooldownMs: 1000 },
    schemaEnforcement: 'reject',
    metadata: { name: 'chat', spec_hash: 'abc123' },
    deletedAt: null,
  });
  const http = new c.Route(stack, 'http', {
    tenantId: tenant.id,
    pathPrefix: '/billing',
    methods: ['GET', 'POST'],
    serviceId: svc.id,
    stripPrefix: true,
    authRequired: false,
  });
  new c.Route(stack, 'direct', { tenantId: tenant.id, pathPrefix: '/direct', backendUrl: 'https://api.example.com' });
  new c.Budget(stack, 'budget', {
    id: 'monthly',
    tenantId: tenant.id,
    name: 'Monthly',
    apiKeyId: key.id,
    period: 'MONTHLY',
    limitUsd: 99.5,
    enforcement: 'SOFT',
    alertThresholds: [50, 90],
  });
  new c.Webhook(stack, 'hook', {
    id: 'events',
    tenantId: tenant.id,
    url: 'https://hooks.example.com/acme',
    events: ['*'],
    active: false,
    secretWo: 'whsec_"quoted"\\secret',
    secretWoVersion: 2,
  });
  new c.Policy(stack, 'policy', {
    id: 'daily-quota',
    tenantId: tenant.id,
    name: 'Daily quota',
    description: 'at most 1,000 a day',
    type: 'quota',
    target: 'route',
    targetId: llm.id,
    priority: 10,
    body: 'limit: 1000\nperiod: day\n',
  });
  new c.Schema(stack, 'schema', { id: 'person', tenantId: tenant.id, schema: JSON.stringify({ type: 'object' }) });
  new c.User(stack, 'user', {
    id: 'ada',
    tenantId: tenant.id,
    email: 'ada@example.com',
    name: 'Ada',
    role: 'admin',
    enabled: true,
    passwordWo: 'a long "quoted" password',
    passwordWoVersion: 1,
  });
  new c.PromptTemplate(stack, 'prompt', {
    id: 'summary',
    tenantId: tenant.id,
    name: 'Summary',
    template: 'Summarise in {{words}} words',
    variables: ['words'],
  });
  new c.McpServer(stack, 'mcp', {
    id: 'tools',
    tenantId: tenant.id,
    name: 'Tools',
    url: 'https://mcp.example.com/mcp',
    transport: 'streamable-http',
    authHeaderName: 'Authorization',
    enabled: false,
    timeoutMs: 5000,
    authHeaderWo: 'Bearer mcp-secret',
    authHeaderWoVersion: 1,
  });
  new c.DataPorticoRateLimitTier(stack, 'tier_lookup', { id: tier.id });
  new c.DataPorticoTenant(stack, 'tenant_lookup', { id: tenant.id });
  new c.DataPorticoCredential(stack, 'cred_lookup', { id: cred.id, tenantId: tenant.id });
  new c.DataPorticoService(stack, 'svc_lookup', { id: svc.id, tenantId: tenant.id });
  const lookup = new c.DataPorticoRoute(stack, 'route_lookup', { id: http.id, tenantId: llm.tenantId });
  // nested state, read as cdktf bindings' output references do: terraform validate checks each path exists
  new c.TerraformOutput(stack, 'first_model', { value: llm.providers.get(0).model });
  new c.TerraformOutput(stack, 'window', { value: lookup.rateLimit.windowSecs });
  new c.TerraformOutput(stack, 'breaker', { value: lookup.circuitBreaker });
}

/** Synthesizes `everyConstruct` into a fresh directory, as HCL (what `cdktf synth --hcl` does) or as JSON. */
function synth(hclOutput: boolean, endpoint = 'http://127.0.0.1:8090') {
  const outdir = new TerraformDir().dir;
  const before = process.env.SYNTH_HCL_OUTPUT;
  process.env.SYNTH_HCL_OUTPUT = String(hclOutput); // the stack reads it when made
  try {
    const app = new c.App({ outdir, hclOutput });
    const stack = new c.TerraformStack(app, 'all');
    everyConstruct(stack, endpoint);
    app.synth();
    const dir = join(outdir, 'stacks', 'all');
    return { dir, stack, text: readFileSync(join(dir, hclOutput ? 'cdk.tf' : 'cdk.tf.json'), 'utf8') };
  } finally {
    if (before === undefined) delete process.env.SYNTH_HCL_OUTPUT;
    else process.env.SYNTH_HCL_OUTPUT = before;
  }
}

/** The HCL of each block, by `resource.type.name` / `data.type.name` (cdktf writes every block from column 0). */
function blocks(hcl: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of hcl.split(/^(?=(?:resource|data|output|provider|variable) "|terraform \{|locals \{)/m)) {
    const head = /^(resource|data) "([^"]+)" "([^"]+)"/.exec(part);
    if (head) out.set(`${head[1]}.${head[2]}.${head[3]}`, part);
  }
  return out;
}

/** The snake_case arguments a construct was given: what its JSON synthesis holds, meta-arguments aside. */
const argumentsOf = (e: TerraformResource | TerraformDataSource) =>
  Object.keys((e as unknown as { synthesizeAttributes(): Record<string, unknown> }).synthesizeAttributes());

const modelOf = (e: TerraformResource | TerraformDataSource, data: boolean): ResourceModel =>
  (data ? DATA_MODELS : MODELS).find((m) => m.typeName === e.terraformResourceType)!;

describe('issue 13, item 11: cdktf synth --hcl', () => {
  test('every construct writes each argument it was given; every argument of every construct is covered', () => {
    const { text, stack } = synth(true);
    const byAddress = blocks(text);
    const covered = new Map<string, Set<string>>();
    for (const e of stack.node.findAll()) {
      const data = e instanceof TerraformDataSource;
      if (!data && !(e instanceof TerraformResource)) continue;
      const r = e as TerraformResource;
      const address = `${data ? 'data' : 'resource'}.${r.terraformResourceType}.${r.friendlyUniqueId}`;
      const block = byAddress.get(address);
      expect([address, block !== undefined]).toEqual([address, true]);
      const given = argumentsOf(r);
      expect(given.length).toBeGreaterThan(0);
      for (const name of given) expect([address, block]).toEqual([address, expect.stringMatching(`\\n${name} = `)]);
      const key = `${data ? 'data.' : ''}${r.terraformResourceType}`;
      covered.set(key, new Set([...(covered.get(key) ?? []), ...given]));
      expect(modelOf(r, data)).toBeDefined();
    }
    for (const [data, models] of [
      [false, MODELS],
      [true, DATA_MODELS],
    ] as const)
      for (const m of models) {
        const key = `${data ? 'data.' : ''}${m.typeName}`;
        const inputs = m.attributes.filter((a) => a.required || a.optional).map((a) => a.name);
        expect([key, [...(covered.get(key) ?? [])].sort()]).toEqual([key, inputs.sort()]);
      }
    expect(text).toMatch(/^provider "portico" \{\nendpoint = "http:\/\/127\.0\.0\.1:8090"\ntoken = "cdktf-hcl/m);
    // nested attributes are written as attributes (`name = { … }`), never as blocks
    expect(byAddress.get('resource.portico_route.llm')).toMatch(/\nrate_limit = \{\nlimit = 10\nwindow_secs = 60\n\}/);
    expect(byAddress.get('resource.portico_route.llm')).toMatch(/\nproviders = \[\n\{\nprovider = "openai"/);
    expect(byAddress.get('resource.portico_rate_limit_tier.tier')).toContain('\nmonthly_quota = null\n');
    expect(byAddress.get('resource.portico_route.llm')).toContain(
      'description = "Line one says \\"hi\\" \\\\ back\\nline two: café"',
    );
  });

  const haveTerraform = terraformAvailable();
  (haveTerraform ? describe : describe.skip)('with our provider installed', () => {
    let gw: TerraformGateway;
    let tf: TerraformDir;
    beforeAll(async () => {
      gw = await startGatewayForTerraform({ token: TOKEN });
      tf = new TerraformDir();
      await tf.installProvider();
    }, 120_000);
    afterAll(() => gw?.close());

    /** init, validate and plan the synthesized stack in `dir`; the plan's resource values by address. */
    async function validateAndPlan(dir: string) {
      const stack = new TerraformDir({}, { dir, home: tf.home });
      expect(await stack.init()).toMatchObject({ code: 0 });
      const validated = await stack.validate();
      expect([validated.code, validated.stdout + validated.stderr]).toEqual([
        0,
        expect.stringContaining('The configuration is valid'),
      ]);
      const plan = await stack.tf('plan', '-input=false', '-no-color', '-refresh=false', '-lock=false', '-out=tfplan');
      expect([plan.code, plan.stdout + plan.stderr]).toEqual([0, expect.stringContaining('Plan:')]);
      const shown = JSON.parse((await stack.tf('show', '-json', 'tfplan')).stdout);
      return Object.fromEntries(
        (shown.resource_changes as { address: string; change: { after: unknown } }[]).map((r) => [
          r.address,
          r.change.after,
        ]),
      );
    }

    test('terraform validates the HCL, and plans from it exactly what it plans from the JSON synthesis', async () => {
      const hcl = synth(true, gw.url);
      const json = synth(false, gw.url);
      const fromHcl = await validateAndPlan(hcl.dir);
      const fromJson = await validateAndPlan(json.dir);
      expect(Object.keys(fromHcl).length).toBeGreaterThanOrEqual(12);
      expect(hcl.text).toContain('value = "${portico_route.llm.providers[0].model}"');
      expect(hcl.text).toContain('value = "${data.portico_route.route_lookup.rate_limit.window_secs}"');
      expect(fromHcl).toEqual(fromJson);
      expect((fromHcl['portico_route.llm'] as { description: string }).description).toBe(AWKWARD);
    }, 240_000);

    test('`cdktf synth --hcl` of the example stacks (stacks/main.ts): HCL that terraform validates', async () => {
      const dir = new TerraformDir().dir;
      writeFileSync(
        join(dir, 'cdktf.json'),
        JSON.stringify({
          language: 'typescript',
          app: `node ${TSX} ${join(ROOT, 'stacks', 'main.ts')}`,
          sendCrashReports: 'false',
          terraformProviders: [],
        }),
      );
      const env = { ...process.env, HOME: tf.home, CHECKPOINT_DISABLE: '1', CI: '1', FORCE_COLOR: '0' };
      const synthesized = await exec(CDKTF, ['synth', '--hcl'], dir, env);
      expect([synthesized.code, synthesized.out]).toEqual([0, expect.anything()]);
      const manifest = JSON.parse(readFileSync(join(dir, 'cdktf.out', 'manifest.json'), 'utf8'));
      const stacks = Object.values(manifest.stacks) as { synthesizedStackPath: string; workingDirectory: string }[];
      expect(stacks.length).toBeGreaterThan(0);
      for (const s of stacks) {
        expect(s.synthesizedStackPath).toMatch(/cdk\.tf$/);
        const hcl = readFileSync(join(dir, 'cdktf.out', s.synthesizedStackPath), 'utf8');
        expect(hcl).toMatch(/^resource "portico_/m);
        const stackDir = join(dir, 'cdktf.out', s.workingDirectory);
        const stack = new TerraformDir({}, { dir: stackDir, home: tf.home });
        expect((await stack.init('-backend=false')).code).toBe(0);
        expect((await stack.validate()).stdout).toContain('The configuration is valid');
      }
    }, 240_000);
  });
});

describe('issue 13, item 14: getters, setters, resetX() and xInput, as in cdktf bindings', () => {
  /** A route and a provider changed after construction, synthesized as JSON or HCL. */
  function changed(hclOutput: boolean) {
    const outdir = new TerraformDir().dir;
    const before = process.env.SYNTH_HCL_OUTPUT;
    process.env.SYNTH_HCL_OUTPUT = String(hclOutput);
    try {
      const app = new c.App({ outdir, hclOutput });
      const stack = new c.TerraformStack(app, 'members');
      const provider = new c.PorticoProvider(stack, 'portico', { endpoint: 'http://127.0.0.1:1', token: 'old' });
      const route = new c.Route(stack, 'r', {
        modelPattern: 'gpt*',
        providers: [{ provider: 'openai' }],
        priority: 5,
        strategy: 'fallback',
        description: 'before',
      });
      route.strategy = 'weighted';
      route.description = 'after';
      route.rateLimit = { limit: 1, windowSecs: 2 };
      route.resetPriority();
      provider.endpoint = 'http://127.0.0.1:2';
      provider.resetToken();
      // getters read state: references, whatever was set
      new c.TerraformOutput(stack, 'strategy', { value: route.strategy });
      new c.TerraformOutput(stack, 'priority', { value: route.priority });
      new c.TerraformOutput(stack, 'rate_limit', { value: route.rateLimit });
      new c.TerraformOutput(stack, 'limit', { value: route.rateLimit.limit });
      new c.TerraformOutput(stack, 'second_weight', { value: route.providers.get(1).weight });
      app.synth();
      const file = join(outdir, 'stacks', 'members', hclOutput ? 'cdk.tf' : 'cdk.tf.json');
      return { route, provider, text: readFileSync(file, 'utf8') };
    } finally {
      if (before === undefined) delete process.env.SYNTH_HCL_OUTPUT;
      else process.env.SYNTH_HCL_OUTPUT = before;
    }
  }

  test('xInput reads the configured value, getters read state as references, the provider reads back what was set', () => {
    const { text, route, provider } = changed(false);
    expect(route.strategyInput).toBe('weighted');
    expect(route.priorityInput).toBeUndefined();
    expect(route.modelPatternInput).toBe('gpt*');
    expect(route.rateLimitInput).toEqual({ limit: 1, windowSecs: 2 });
    expect(JSON.parse(text).output).toEqual({
      strategy: { value: '${portico_route.r.strategy}' },
      priority: { value: '${portico_route.r.priority}' },
      rate_limit: { value: '${portico_route.r.rate_limit}' },
      limit: { value: '${portico_route.r.rate_limit.limit}' },
      second_weight: { value: '${portico_route.r.providers[1].weight}' },
    });
    expect(provider.endpoint).toBe('http://127.0.0.1:2');
    expect(provider.tokenInput).toBeUndefined();
  });

  test('a setter changes, and resetX() removes, what the JSON synthesis writes', () => {
    const doc = JSON.parse(changed(false).text);
    const route = doc.resource.portico_route.r;
    expect(route).toMatchObject({
      strategy: 'weighted',
      description: 'after',
      rate_limit: { limit: 1, window_secs: 2 },
    });
    expect(route.priority).toBeUndefined();
    expect(doc.provider.portico[0]).toEqual({ endpoint: 'http://127.0.0.1:2' });
  });

  test('the same in the HCL synthesis', () => {
    const { text } = changed(true);
    const route = blocks(text).get('resource.portico_route.r')!;
    expect(route).toContain('\nstrategy = "weighted"\n');
    expect(route).toContain('\ndescription = "after"\n');
    expect(route).toContain('\nrate_limit = {\nlimit = 1\nwindow_secs = 2\n}');
    expect(route).not.toMatch(/\npriority = /);
    expect(text).toMatch(/provider "portico" \{\nendpoint = "http:\/\/127\.0\.0\.1:2"\n\}/);
  });
});

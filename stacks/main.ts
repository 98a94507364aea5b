import { App, PorticoProvider, Route, TenantOnboarding, TerraformStack, Webhook } from '../constructs';
import type { Construct } from '../constructs/cdktf';

/** Fleet-wide configuration: the global LLM routes every tenant shares, and the platform team's audit webhook. */
class PlatformStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new PorticoProvider(this, 'portico', {});
    new Route(this, 'gpt', {
      id: 'global-gpt',
      modelPattern: 'gpt*',
      strategy: 'fallback',
      providers: [{ provider: 'openai' }, { provider: 'azure' }],
    });
    new Route(this, 'claude', { id: 'global-claude', modelPattern: 'claude*', providers: [{ provider: 'anthropic' }] });
    new Webhook(this, 'audit', {
      id: 'platform-audit',
      url: 'https://hooks.example.com/portico-audit',
      events: ['*'],
      secretWo: process.env.PORTICO_WEBHOOK_SECRET ?? 'whsec_example_only_change_me',
      secretWoVersion: 1,
    });
  }
}

/** One team: its tenant, keys, monthly budget and an HTTP route of its own. */
class TenantStack extends TerraformStack {
  constructor(scope: Construct, id: string, tenant: { id: string; name: string }) {
    super(scope, id);
    new PorticoProvider(this, 'portico', {});
    const team = new TenantOnboarding(this, 'onboarding', {
      ...tenant,
      metadata: { team: tenant.id },
      keys: ['production', 'staging'],
      monthlyBudgetUsd: 500,
    });
    new Route(this, 'payments', {
      id: `${tenant.id}-payments`,
      tenantId: team.tenant.id,
      pathPrefix: `/apis/${tenant.id}/payments`,
      backendUrl: 'https://payments.example.com',
      methods: ['GET', 'POST'],
    });
  }
}

const app = new App();
new PlatformStack(app, 'platform');
new TenantStack(app, 'tenant-acme', { id: 'acme', name: 'Acme Corp' });
app.synth();

import { Construct } from './cdktf';
import { ApiKey, Budget, Tenant, Webhook } from './generated';

export interface TenantOnboardingConfig {
  id: string;
  name: string;
  metadata?: { [key: string]: string };
  /** API keys to issue, by name. */
  keys?: string[];
  /** A monthly HARD budget, in USD. */
  monthlyBudgetUsd?: number;
  /**
   * Where the tenant's events go, signed with `webhookSecret`; without one the server makes the secret, kept in state
   * (sensitive) and readable as `webhook.secret`, so the receiver can verify deliveries.
   */
  webhookUrl?: string;
  webhookSecret?: string;
}

/** A tenant with its keys, a monthly budget and an event webhook: the usual first day of a new team. */
export class TenantOnboarding extends Construct {
  readonly tenant: Tenant;
  readonly keys: ApiKey[];
  readonly budget?: Budget;
  readonly webhook?: Webhook;

  constructor(scope: Construct, id: string, config: TenantOnboardingConfig) {
    super(scope, id);
    this.tenant = new Tenant(this, 'tenant', { id: config.id, name: config.name, metadata: config.metadata });
    this.keys = (config.keys ?? []).map((name) => new ApiKey(this, `key-${name}`, { tenantId: this.tenant.id, name }));
    if (config.monthlyBudgetUsd !== undefined) {
      this.budget = new Budget(this, 'budget', {
        tenantId: this.tenant.id,
        period: 'MONTHLY',
        limitUsd: config.monthlyBudgetUsd,
        enforcement: 'HARD',
      });
    }
    if (config.webhookUrl) {
      this.webhook = new Webhook(this, 'webhook', {
        tenantId: this.tenant.id,
        url: config.webhookUrl,
        events: ['*'],
        secretWo: config.webhookSecret,
        secretWoVersion: config.webhookSecret ? 1 : undefined,
      });
    }
  }
}

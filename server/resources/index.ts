import type { ResourceDefinition } from './define';
import { apiKey } from './api-key';
import { budget } from './budget';
import { credential } from './credential';
import { pricing } from './pricing';
import { rateLimitTier } from './rate-limit-tier';
import { route } from './route';
import { service } from './service';
import { tenant } from './tenant';
import { token } from './token';
import { webhook } from './webhook';

/** Every resource, parents before children (the order creates run in; deletes run in reverse). */
export const RESOURCES: readonly ResourceDefinition[] = [rateLimitTier, tenant, apiKey, token, credential, pricing, service, route, budget, webhook] as unknown as ResourceDefinition[];

export function resourceByKind(kind: string): ResourceDefinition | undefined {
  return RESOURCES.find((r) => r.kind === kind);
}

export { rateLimitTier, tenant, apiKey, token, credential, pricing, service, route, budget, webhook };
export * from './define';

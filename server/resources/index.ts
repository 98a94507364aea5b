import type { ResourceDefinition } from './define';
import { apiKey } from './api-key';
import { tenant } from './tenant';
import { token } from './token';

/** Every resource, parents before children (the order creates run in; deletes run in reverse). */
export const RESOURCES: readonly ResourceDefinition[] = [tenant, apiKey, token] as unknown as ResourceDefinition[];

export function resourceByKind(kind: string): ResourceDefinition | undefined {
  return RESOURCES.find((r) => r.kind === kind);
}

export { tenant, apiKey, token };
export * from './define';

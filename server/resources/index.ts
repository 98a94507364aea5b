import type { ResourceDefinition, StateOf } from './define';
import { apiKey } from './api-key';
import { budget } from './budget';
import { credential } from './credential';
import { mcpServer } from './mcp-server';
import { creationOrder } from './order';
import { policy } from './policy';
import { pricing } from './pricing';
import { promptTemplate } from './prompt-template';
import { rateLimitTier } from './rate-limit-tier';
import { route } from './route';
import { schemaDocument } from './schema-document';
import { service } from './service';
import { tenant } from './tenant';
import { token } from './token';
import { user } from './user';
import { webhook } from './webhook';

/**
 * Every resource, as a tuple that keeps each definition's own types. The order is only the tie-break of
 * `CREATION_ORDER` (./order.ts), which derives parents-before-children from scope and `references`.
 */
export const RESOURCES = [
  rateLimitTier,
  tenant,
  apiKey,
  token,
  credential,
  pricing,
  service,
  route,
  budget,
  webhook,
  policy,
  schemaDocument,
  user,
  promptTemplate,
  mcpServer,
] as const;

/** Any definition of the registry, with its own types. */
export type RegisteredDefinition = (typeof RESOURCES)[number];
/** The kinds of the registry: `'route' | 'tenant' | …`. */
export type Kind = RegisteredDefinition['kind'];
/** The definition of one kind: `DefinitionOf<'route'>` is `typeof route`. */
export type DefinitionOf<K extends Kind> = Extract<RegisteredDefinition, { kind: K }>;
/** The state of one kind (fields, computed, id, tenant_id): `StateOfKind<'route'>` is `RouteState`. */
export type StateOfKind<K extends Kind> = StateOf<DefinitionOf<K>>;

export type TenantState = StateOf<typeof tenant>;
export type ApiKeyState = StateOf<typeof apiKey>;
export type RouteState = StateOf<typeof route>;
export type ServiceState = StateOf<typeof service>;
export type CredentialState = StateOf<typeof credential>;
export type BudgetState = StateOf<typeof budget>;
export type PricingState = StateOf<typeof pricing>;
export type RateLimitTierState = StateOf<typeof rateLimitTier>;
export type PolicyState = StateOf<typeof policy>;
export type SchemaDocumentState = StateOf<typeof schemaDocument>;
export type McpServerState = StateOf<typeof mcpServer>;

/** Parents before children, from scope and `references`: the order creates and imports run in (deletes: reversed). */
export const CREATION_ORDER = creationOrder(RESOURCES);

/** The registry seen as plain definitions (each is one: the compiler checks it here). */
const DEFINITIONS: readonly ResourceDefinition[] = RESOURCES;

export function resourceByKind(kind: string): ResourceDefinition | undefined {
  return DEFINITIONS.find((r) => r.kind === kind);
}

export {
  rateLimitTier,
  tenant,
  apiKey,
  token,
  credential,
  pricing,
  service,
  route,
  budget,
  webhook,
  policy,
  schemaDocument,
  user,
  promptTemplate,
  mcpServer,
};
export * from './define';

import type { ResourceDefinition } from './define';
import { RESOURCES } from './index';

/**
 * Audit event types the gateway writes outside the resource definitions. Whoever adds an `audit.append` of a new
 * type adds it here, or webhooks cannot subscribe to it.
 */
export const SYSTEM_EVENT_TYPES = [
  'TENANT_SCOPE_VIOLATION', // a tenant caller named another tenant (control/resource-service.ts)
  'CONFIG_IMPORTED', // control/config-sync.ts
  'ERROR_EVENT_RESOLVED', // control/traffic-routes.ts
  'BUDGET_THRESHOLD_CROSSED', // data/llm-proxy.ts
  'WEBHOOK_TEST', // the synthetic event of POST /webhooks/{id}/test
  'MCP_APPROVAL_APPROVED', // mcp/approval-routes.ts
  'MCP_APPROVAL_DENIED', // mcp/approval-routes.ts
  'QUOTA_RESET', // node-admin/quota-routes.ts
] as const;

/** A definition that declares no such event (defineResource makes updatable and versioned kinds declare theirs). */
const undeclared = (def: ResourceDefinition, event: string): never => {
  throw new Error(`Resource "${def.kind}" declares no audit.${event}`);
};

/** The event an update writes, as the definition declares it. */
export const updatedEventType = (def: ResourceDefinition) => def.audit.updated ?? undeclared(def, 'updated');

/** The event a rollback writes, as the definition declares it. */
export const rolledBackEventType = (def: ResourceDefinition) => def.audit.rolledBack ?? undeclared(def, 'rolledBack');

/** The event types one definition makes its changes write. */
export function eventTypesOf(def: ResourceDefinition): string[] {
  const types = [def.audit.created, def.audit.deleted, ...Object.values(def.audit.fieldEvents ?? {})];
  if (def.updatable !== false) types.push(updatedEventType(def));
  if (def.versioned) types.push(rolledBackEventType(def));
  for (const action of Object.values(def.actions ?? {})) types.push(action.audit);
  return types;
}

let known: readonly string[] | undefined;

/**
 * Every event type a webhook may subscribe to, sorted: the registry's and the system's. Computed on first use, not
 * at load: the webhook definition, itself in the registry, checks its `events` against it.
 */
export function knownEventTypes(): readonly string[] {
  known ??= [...new Set([...RESOURCES.flatMap(eventTypesOf), ...SYSTEM_EVENT_TYPES])].sort();
  return known;
}

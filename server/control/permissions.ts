import type { Area } from '../resources/define';
import type { AdminRole } from '../resources/token';

export type Access = 'none' | 'read' | 'write';

/**
 * The permission matrix: what each admin role may do in each area. Tenant roles (admin, developer, viewer) act only
 * inside their own tenant; platform roles act across tenants. `write` includes `read`. The README shows this table.
 */
export const PERMISSIONS: Record<AdminRole, Record<Area, Access>> = {
  //               tenants   keys     tokens   routes   policies budgets  pricing  credentials webhooks mcp      schemas  audit   config
  owner: {
    tenants: 'write',
    keys: 'write',
    tokens: 'write',
    routes: 'write',
    policies: 'write',
    budgets: 'write',
    pricing: 'write',
    credentials: 'write',
    webhooks: 'write',
    mcp: 'write',
    schemas: 'write',
    audit: 'read',
    config: 'write',
  },
  'policy-admin': {
    tenants: 'read',
    keys: 'read',
    tokens: 'none',
    routes: 'write',
    policies: 'write',
    budgets: 'read',
    pricing: 'read',
    credentials: 'read',
    webhooks: 'read',
    mcp: 'write',
    schemas: 'write',
    audit: 'read',
    config: 'read',
  },
  'billing-admin': {
    tenants: 'read',
    keys: 'read',
    tokens: 'none',
    routes: 'read',
    policies: 'read',
    budgets: 'write',
    pricing: 'write',
    credentials: 'read',
    webhooks: 'read',
    mcp: 'read',
    schemas: 'read',
    audit: 'read',
    config: 'read',
  },
  admin: {
    tenants: 'read',
    keys: 'write',
    tokens: 'write',
    routes: 'write',
    policies: 'write',
    budgets: 'read',
    pricing: 'read',
    credentials: 'write',
    webhooks: 'write',
    mcp: 'write',
    schemas: 'write',
    audit: 'read',
    config: 'read',
  },
  developer: {
    tenants: 'read',
    keys: 'write',
    tokens: 'none',
    routes: 'read',
    policies: 'read',
    budgets: 'read',
    pricing: 'read',
    credentials: 'none',
    webhooks: 'read',
    mcp: 'read',
    schemas: 'read',
    audit: 'none',
    config: 'none',
  },
  viewer: {
    tenants: 'read',
    keys: 'read',
    tokens: 'none',
    routes: 'read',
    policies: 'read',
    budgets: 'read',
    pricing: 'read',
    credentials: 'read',
    webhooks: 'read',
    mcp: 'read',
    schemas: 'read',
    audit: 'read',
    config: 'none',
  },
};

export function allows(role: AdminRole, area: Area, need: 'read' | 'write'): boolean {
  const access = PERMISSIONS[role][area];
  return access === 'write' || (need === 'read' && access === 'read');
}

/** Roles a caller may grant through a new token: never more than its own. */
export function grantableRoles(role: AdminRole): AdminRole[] {
  if (role === 'owner') return Object.keys(PERMISSIONS) as AdminRole[];
  if (role === 'admin') return ['admin', 'developer', 'viewer'];
  return [];
}

import { z } from 'zod';
import { defineResource, isoDateTime, name } from './define';

export const PLATFORM_ROLES = ['owner', 'policy-admin', 'billing-admin'] as const;
export const TENANT_ROLES = ['admin', 'developer', 'viewer'] as const;
export const ROLES = [...PLATFORM_ROLES, ...TENANT_ROLES] as const;
export type AdminRole = (typeof ROLES)[number];

export const token = defineResource({
  kind: 'token',
  title: 'Personal access token',
  description: 'An admin API credential with a role; tenant roles need `tenant_id`. The plaintext `token` is shown once.',
  path: '/tokens',
  scope: 'tenant-optional',
  nullTenant: 'platform-only',
  area: 'tokens',
  // only the admin API reads tokens (from the database); the data plane has no use for them
  snapshot: false,
  id: { source: 'server', prefix: 'pat_' },
  fields: z.strictObject({
    name: name(),
    role: z.enum(ROLES),
    expires_at: isoDateTime().nullable().default(null),
  }),
  computed: z.strictObject({
    prefix: z.string().default(''),
    status: z.enum(['ACTIVE', 'REVOKED']).default('ACTIVE'),
    revoked_at: isoDateTime().nullable().default(null),
  }),
  updatable: false,
  // Tokens are never updated, so create is the only write that sets the expiry.
  futureOnCreate: ['expires_at'],
  secret: { mode: 'generated', field: 'token', prefix: 'ptc_pat_', prefixField: 'prefix' },
  audit: { created: 'TOKEN_CREATED', deleted: 'TOKEN_DELETED' },
  actions: {
    revoke: { set: { status: 'REVOKED', revoked_at: 'now' }, audit: 'TOKEN_REVOKED', when: { field: 'status', in: ['ACTIVE'] } },
  },
  check: (s) => {
    const tenantRole = (TENANT_ROLES as readonly string[]).includes(s.role);
    if (tenantRole && !s.tenant_id) return [{ path: 'tenant_id', message: `is required for the tenant role "${s.role}"` }];
    if (!tenantRole && s.tenant_id) return [{ path: 'tenant_id', message: `must be null for the platform role "${s.role}"` }];
    return [];
  },
});

import { z } from 'zod';
import { defineResource, isoDateTime, name } from './define';

export const PLATFORM_ROLES = ['owner', 'policy-admin', 'billing-admin'] as const;
export const TENANT_ROLES = ['admin', 'developer', 'viewer'] as const;
export const ROLES = [...PLATFORM_ROLES, ...TENANT_ROLES] as const;
export type AdminRole = (typeof ROLES)[number];

export const token = defineResource({
  kind: 'token',
  title: 'Personal access token',
  plural: 'Personal access tokens',
  description:
    'An admin API credential with a role; tenant roles need `tenant_id`. The plaintext `token` is shown once.',
  path: '/tokens',
  notExported: 'its secret exists only as a hash and cannot be re-created',
  scope: 'tenant-optional',
  nullTenant: 'platform-only',
  area: 'tokens',
  // only the admin API reads tokens (from the database); the data plane has no use for them
  snapshot: false,
  id: { source: 'server', prefix: 'pat_' },
  fields: z.strictObject({
    name: name().describe('What the token is for.'),
    role: z.enum(ROLES).describe('Its role: a platform role, or a tenant role with tenant_id.'),
    expires_at: isoDateTime()
      .nullable()
      .default(null)
      .describe('When it stops working (in the future at creation); null: never.'),
  }),
  computed: z.strictObject({
    prefix: z.string().default('').describe('The first characters of the token, to recognise it.'),
    status: z.enum(['ACTIVE', 'REVOKED']).default('ACTIVE').describe('REVOKED tokens are refused.'),
    revoked_at: isoDateTime().nullable().default(null).describe('When it was revoked.'),
  }),
  updatable: false,
  // a caller may not hand out more power than it has
  grant: { field: 'role' },
  // Tokens are never updated, so create is the only write that sets the expiry.
  futureOnCreate: ['expires_at'],
  secret: { mode: 'generated', field: 'token', prefix: 'ptc_pat_', prefixField: 'prefix' },
  audit: { created: 'TOKEN_CREATED', deleted: 'TOKEN_DELETED' },
  actions: {
    revoke: {
      set: { status: 'REVOKED', revoked_at: 'now' },
      audit: 'TOKEN_REVOKED',
      when: { field: 'status', in: ['ACTIVE'] },
    },
  },
  check: (s) => {
    const tenantRole = (TENANT_ROLES as readonly string[]).includes(s.role);
    if (tenantRole && !s.tenant_id)
      return [{ path: 'tenant_id', message: `is required for the tenant role "${s.role}"` }];
    if (!tenantRole && s.tenant_id)
      return [{ path: 'tenant_id', message: `must be null for the platform role "${s.role}"` }];
    return [];
  },
});

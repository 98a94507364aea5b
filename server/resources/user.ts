import { z } from 'zod';
import { defineResource, name, secretVersion } from './define';
import { ROLES, TENANT_ROLES } from './token';

/**
 * A person who signs in to the console or the tenant portal. The password is write-only: kept as a salted scrypt
 * hash, never returned, exported or audited; `password_set` tells whether one is set.
 */
export const user = defineResource({
  kind: 'user',
  title: 'User',
  plural: 'Users',
  description:
    'A person who signs in to the console or tenant portal, with a role; tenant roles need `tenant_id`. ' +
    'The `password` is write-only (a salted scrypt hash is kept); emails are unique across the gateway.',
  path: '/users',
  exportKey: 'users',
  scope: 'tenant-optional',
  // a user without a tenant is a platform user: tenant callers neither see nor manage them
  nullTenant: 'platform-only',
  // same power as handing out a token: who may write tokens may manage users
  area: 'tokens',
  // the data plane never signs anyone in
  snapshot: false,
  id: { source: 'either', prefix: 'usr_' },
  fields: z.strictObject({
    email: z
      .email({ error: 'must be an email address' })
      .max(254)
      .describe('Where the user signs in with; unique across the gateway, ignoring case.'),
    name: name().describe('What the user is called.'),
    role: z.enum(ROLES).describe('Their role: a platform role, or a tenant role with tenant_id.'),
    enabled: z.boolean().default(true).describe('Disabled users cannot sign in.'),
    password_version: secretVersion('password'),
  }),
  computed: z.strictObject({}),
  unique: (u) => `email:${u.email.toLowerCase()}`,
  // a caller may not hand out more power than it has (a tenant admin never makes a platform user)
  grant: { field: 'role' },
  secret: {
    mode: 'encrypted',
    field: 'password',
    hashed: true,
    setField: 'password_set',
    versionField: 'password_version',
  },
  audit: { created: 'USER_CREATED', updated: 'USER_UPDATED', deleted: 'USER_DELETED' },
  check: (s) => {
    const tenantRole = (TENANT_ROLES as readonly string[]).includes(s.role);
    if (tenantRole && !s.tenant_id)
      return [{ path: 'tenant_id', message: `is required for the tenant role "${s.role}"` }];
    if (!tenantRole && s.tenant_id)
      return [{ path: 'tenant_id', message: `must be null for the platform role "${s.role}"` }];
    return [];
  },
});

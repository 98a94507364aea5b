import { z } from 'zod';
import { defineResource, metadata, name } from './define';

export const tenant = defineResource({
  kind: 'tenant',
  title: 'Tenant',
  description: 'A team or customer: the unit of isolation for keys, routes, budgets and usage.',
  path: '/tenants',
  exportKey: 'tenants',
  scope: 'tenant-self',
  area: 'tenants',
  id: { source: 'caller' },
  fields: z.strictObject({
    name: name(),
    status: z.enum(['ACTIVE', 'SUSPENDED']).default('ACTIVE'),
    region: z.string().min(1).max(64).nullable().default(null),
    metadata: metadata(),
  }),
  computed: z.strictObject({}),
  audit: {
    created: 'TENANT_CREATED',
    updated: 'TENANT_UPDATED',
    deleted: 'TENANT_DELETED',
    fieldEvents: { metadata: 'TENANT_METADATA_UPDATED' },
  },
});

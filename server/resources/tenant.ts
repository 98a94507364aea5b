import { z } from 'zod';
import { defineResource, metadata, name } from './define';

export const tenant = defineResource({
  kind: 'tenant',
  title: 'Tenant',
  plural: 'Tenants',
  description: 'A team or customer: the unit of isolation for keys, routes, budgets and usage.',
  path: '/tenants',
  exportKey: 'tenants',
  scope: 'tenant-self',
  area: 'tenants',
  id: { source: 'caller' },
  fields: z.strictObject({
    name: name().describe('Display name.'),
    status: z.enum(['ACTIVE', 'SUSPENDED']).default('ACTIVE').describe("A SUSPENDED tenant's traffic is refused."),
    region: z.string().min(1).max(64).nullable().default(null).describe('Where the tenant is served from, as a label.'),
    metadata: metadata().describe('Free-form string labels.'),
  }),
  computed: z.strictObject({}),
  audit: {
    created: 'TENANT_CREATED',
    updated: 'TENANT_UPDATED',
    deleted: 'TENANT_DELETED',
    fieldEvents: { metadata: 'TENANT_METADATA_UPDATED' },
  },
});

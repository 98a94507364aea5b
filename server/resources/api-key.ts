import { z } from 'zod';
import { defineResource, isoDateTime, metadata, name } from './define';

/** The prefix of every Portico API key (the data plane tells its keys from a backend's credentials by it). */
export const API_KEY_PREFIX = 'ptc_key_';

export const apiKey = defineResource({
  kind: 'api_key',
  title: 'API key',
  description: "A tenant's consumer credential for the data plane. The plaintext `key` is shown once, at creation.",
  path: '/tenants/{tenant_id}/keys',
  scope: 'tenant',
  area: 'keys',
  id: { source: 'server', prefix: 'key_' },
  fields: z.strictObject({
    name: name(),
    rate_limit_tier: z.string().min(1).max(64).nullable().default(null),
    expires_at: isoDateTime().nullable().default(null),
    metadata: metadata(),
  }),
  computed: z.strictObject({
    prefix: z.string().default(''),
    status: z.enum(['ACTIVE', 'REVOKED']).default('ACTIVE'),
    last_used_at: isoDateTime().nullable().default(null),
    revoked_at: isoDateTime().nullable().default(null),
  }),
  references: { rate_limit_tier: 'rate_limit_tier' },
  futureOnCreate: ['expires_at'],
  secret: { mode: 'generated', field: 'key', prefix: API_KEY_PREFIX, prefixField: 'prefix' },
  audit: { created: 'API_KEY_CREATED', updated: 'API_KEY_UPDATED', deleted: 'API_KEY_DELETED' },
  actions: {
    revoke: { set: { status: 'REVOKED', revoked_at: 'now' }, audit: 'API_KEY_REVOKED', when: { field: 'status', in: ['ACTIVE'] } },
  },
});

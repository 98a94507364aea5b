import { z } from 'zod';
import { defineResource, isoDateTime, metadata, name } from './define';

/** The prefix of every Portico API key (the data plane tells its keys from a backend's credentials by it). */
export const API_KEY_PREFIX = 'ptc_key_';

export const apiKey = defineResource({
  kind: 'api_key',
  title: 'API key',
  plural: 'API keys',
  description: "A tenant's consumer credential for the data plane. The plaintext `key` is shown once, at creation.",
  path: '/tenants/{tenant_id}/keys',
  notExported: 'its secret exists only as a hash and cannot be re-created',
  scope: 'tenant',
  area: 'keys',
  id: { source: 'server', prefix: 'key_' },
  fields: z.strictObject({
    name: name().describe('What the key is for.'),
    rate_limit_tier: z
      .string()
      .min(1)
      .max(64)
      .nullable()
      .default(null)
      .describe('The rate-limit tier its calls count against.'),
    expires_at: isoDateTime()
      .nullable()
      .default(null)
      .describe('When the key stops working (in the future at creation); null: never.'),
    metadata: metadata().describe('Free-form string labels.'),
  }),
  computed: z.strictObject({
    prefix: z.string().default('').describe('The first characters of the key, to recognise it.'),
    status: z.enum(['ACTIVE', 'REVOKED']).default('ACTIVE').describe('REVOKED keys are refused.'),
    last_used_at: isoDateTime()
      .nullable()
      .default(null)
      .describe('When the data plane last accepted it (recorded in batches).'),
    revoked_at: isoDateTime().nullable().default(null).describe('When it was revoked.'),
  }),
  references: { rate_limit_tier: 'rate_limit_tier' },
  futureOnCreate: ['expires_at'],
  secret: { mode: 'generated', field: 'key', prefix: API_KEY_PREFIX, prefixField: 'prefix' },
  audit: { created: 'API_KEY_CREATED', updated: 'API_KEY_UPDATED', deleted: 'API_KEY_DELETED' },
  actions: {
    revoke: {
      set: { status: 'REVOKED', revoked_at: 'now' },
      audit: 'API_KEY_REVOKED',
      when: { field: 'status', in: ['ACTIVE'] },
    },
  },
});

import { z } from 'zod';
import { defineResource, secretVersion } from './define';

/**
 * A provider API key (BYOK), encrypted at rest with AES-256-GCM and never returned. Resolution for a call: the route
 * provider's `credential_id`, else the tenant's active credential for that provider, else a global one.
 */
export const credential = defineResource({
  kind: 'credential',
  title: 'Credential',
  plural: 'Credentials',
  description: 'A provider API key, stored encrypted (AES-256-GCM) and never read back; only `key_last4` is shown.',
  path: '/credentials',
  notExported: 'the provider key it holds is never read back',
  scope: 'tenant-optional',
  area: 'credentials',
  id: { source: 'either', prefix: 'cred_' },
  fields: z.strictObject({
    name: z.string().max(200).default('').describe('A label.'),
    provider: z
      .string()
      .min(1)
      .max(64)
      .describe('The LLM provider the key is for (`openai`), as route providers name it.'),
    key_version: secretVersion('key'),
  }),
  computed: z.strictObject({
    status: z.enum(['ACTIVE', 'REVOKED']).default('ACTIVE').describe('REVOKED credentials are not used.'),
    revoked_at: z.iso.datetime({ offset: true }).nullable().default(null).describe('When it was revoked.'),
  }),
  immutable: ['provider'],
  secret: {
    mode: 'encrypted',
    field: 'api_key',
    last4Field: 'key_last4',
    versionField: 'key_version',
    inSnapshot: true,
  },
  audit: { created: 'CREDENTIAL_CREATED', updated: 'CREDENTIAL_UPDATED', deleted: 'CREDENTIAL_DELETED' },
  actions: {
    rotate: { set: { status: 'ACTIVE', revoked_at: null }, audit: 'CREDENTIAL_ROTATED', takesSecret: true },
    revoke: {
      set: { status: 'REVOKED', revoked_at: 'now' },
      audit: 'CREDENTIAL_REVOKED',
      when: { field: 'status', in: ['ACTIVE'] },
    },
  },
});

import { z } from 'zod';
import { schemaProblems } from '../lib/json-schema';
import { defineResource, jsonObject } from './define';

/**
 * A registered output schema (seed 001, `/v1/admin/schemas`): a JSON Schema that chat requests name by id in
 * `response_format: {type: "json_schema", json_schema: {id}}` instead of sending it inline each time. Tenant-owned
 * (a tenant's `schemas: write` roles manage their own), or global when `tenant_id` is null (platform roles only),
 * which every tenant may use; a request resolves the id in its tenant, then globally.
 */
export const schemaDocument = defineResource({
  kind: 'schema',
  title: 'Output schema',
  plural: 'Output schemas',
  description:
    'A JSON Schema (draft-07) for structured outputs. A chat request naming it by id gets it inlined upstream, and an answer that does not satisfy it is reported.',
  path: '/schemas',
  exportKey: 'schemas',
  scope: 'tenant-optional',
  area: 'schemas',
  id: { source: 'caller' },
  fields: z.strictObject({
    schema: jsonObject().describe(
      'The JSON Schema (draft-07; `$defs` allowed; `format` is not checked), at most 64 KiB as JSON.',
    ),
  }),
  computed: z.strictObject({}),
  audit: { created: 'SCHEMA_CREATED', updated: 'SCHEMA_UPDATED', deleted: 'SCHEMA_DELETED' },
  check: (s) =>
    schemaProblems(s.schema).map((p) => ({ path: p.path ? `schema.${p.path}` : 'schema', message: p.message })),
});

import { z } from 'zod';
import { defineResource, name } from './define';

/** `{{name}}`: a placeholder; names are letters, digits and `_`, not starting with a digit. */
export const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** The names of the placeholders in a template, each once, in order of first use. */
export const placeholders = (template: string): string[] => [
  ...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!)),
];

/**
 * A named text template with `{{variable}}` placeholders. A chat request naming it (`prompt_template`) gets the
 * rendered text as its first (system) message. Every change is a new version; the last 10 are kept.
 */
export const promptTemplate = defineResource({
  kind: 'prompt_template',
  title: 'Prompt template',
  plural: 'Prompt templates',
  description:
    'A named text template with `{{variable}}` placeholders, rendered into a chat request that names it. ' +
    'Versioned, with rollback.',
  path: '/prompt-templates',
  exportKey: 'prompt_templates',
  scope: 'tenant-optional',
  area: 'routes',
  id: { source: 'either', prefix: 'pt_' },
  versioned: true,
  fields: z.strictObject({
    name: name().describe('What the template is called.'),
    template: z.string().min(1).max(100_000).describe('The text, with `{{variable}}` placeholders.'),
    variables: z
      .array(z.string().regex(VARIABLE, 'must be a variable name: letters, digits or "_", not starting with a digit'))
      .max(100)
      .default([])
      .describe('The variables the template uses; every placeholder must be declared here.'),
  }),
  computed: z.strictObject({
    version: z.number().int().default(1).describe('Counts the changes; rollback makes a new version.'),
  }),
  changesOnUpdate: ['version'],
  audit: {
    created: 'PROMPT_TEMPLATE_CREATED',
    updated: 'PROMPT_TEMPLATE_UPDATED',
    deleted: 'PROMPT_TEMPLATE_DELETED',
    rolledBack: 'PROMPT_TEMPLATE_ROLLED_BACK',
  },
  check: (t) => {
    const declared = new Set(t.variables);
    const problems = placeholders(t.template)
      .filter((v) => !declared.has(v))
      .map((v) => ({ path: 'template', message: `uses "{{${v}}}", which is not declared in variables` }));
    if (declared.size !== t.variables.length)
      problems.push({ path: 'variables', message: 'must not name a variable twice' });
    return problems;
  },
});

import { ApiError } from '../errors';
import { PLACEHOLDER } from '../resources/prompt-template';
import type { ConfigSnapshot } from '../store/snapshot';

/**
 * The request field naming a prompt template: `prompt_template: {id, variables}`. The request's messages are built
 * from it (the rendered text first, as a `system` message, then the request's own messages, if any) and the field is
 * removed before the request goes upstream.
 */
export const PROMPT_TEMPLATE_FIELD = 'prompt_template';

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const bad = (path: string, message: string) =>
  new ApiError('VALIDATION_FAILED', `${path} ${message}`, [{ path, message }]);

/**
 * A chat body with its prompt template applied, or the body unchanged when it names none. The template is the
 * caller's tenant's, else a global one. An unknown template or a missing variable is a 400 naming it.
 */
export function applyPromptTemplate(snapshot: ConfigSnapshot, tenantId: string, body: unknown): unknown {
  if (!isRecord(body) || body[PROMPT_TEMPLATE_FIELD] === undefined) return body;
  const { [PROMPT_TEMPLATE_FIELD]: ref, ...rest } = body;
  const at = PROMPT_TEMPLATE_FIELD;
  if (!isRecord(ref)) throw bad(at, 'must be an object: {"id": "…", "variables": {…}}');
  if (typeof ref.id !== 'string' || !ref.id) throw bad(`${at}.id`, 'is required and must be a string');
  const variables = ref.variables ?? {};
  if (!isRecord(variables)) throw bad(`${at}.variables`, 'must be an object of strings');
  const template = snapshot.get('prompt_template', ref.id, tenantId);
  if (!template) {
    throw new ApiError('VALIDATION_FAILED', `No prompt template "${ref.id}"`, [
      { path: `${at}.id`, message: `names no prompt template ("${ref.id}")` },
    ]);
  }
  for (const name of template.variables) {
    // own properties only: a variable named `constructor` is not Object's
    const value = Object.hasOwn(variables, name) ? variables[name] : undefined;
    if (value === undefined) throw bad(`${at}.variables.${name}`, `is required by the template "${ref.id}"`);
    if (typeof value !== 'string') throw bad(`${at}.variables.${name}`, 'must be a string');
  }
  const unknown = Object.keys(variables).find((v) => !template.variables.includes(v));
  if (unknown) throw bad(`${at}.variables.${unknown}`, `is not a variable of the template "${ref.id}"`);
  // one pass over the template: a value holding "{{x}}" is inserted as it is, never rendered again
  const text = template.template.replace(PLACEHOLDER, (_, v: string) => variables[v] as string);
  const own = rest.messages === undefined ? [] : rest.messages;
  if (!Array.isArray(own)) return rest; // parseChat refuses it, naming `messages`
  return { ...rest, messages: [{ role: 'system', content: text }, ...own] };
}

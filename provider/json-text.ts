import { canonicalJson } from '../server/lib/canonical-json';
import type { CtyValue } from './cty-codec';
import { same } from './same-json';

/**
 * Free-form JSON fields (`jsonObject()` in the definition) are JSON text in Terraform, as `jsonencode(…)` makes it.
 * Text that says the same JSON (other key order, other white space) is the same value: the plan keeps the prior
 * text, and a read keeps it while the API's object is equal to it, so re-plans stay empty.
 */

/** The JSON the text holds, or undefined when it is not JSON. */
export function parseJsonText(text: unknown): { value: unknown } | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

/** Whether two values are JSON texts of equal JSON. */
export function sameJsonText(a: CtyValue | undefined, b: CtyValue | undefined): boolean {
  const x = parseJsonText(a);
  const y = parseJsonText(b);
  return x !== undefined && y !== undefined && same(x.value, y.value);
}

/** The state's text for the API's object: the prior text while it says the same, else canonical JSON. */
export function jsonTextOf(api: unknown, prior: CtyValue | undefined): CtyValue {
  if (api === null || api === undefined) return null;
  const before = parseJsonText(prior);
  return before !== undefined && same(before.value, api) ? prior! : canonicalJson(api);
}

import type AjvClass from 'ajv';
import { linearRegex } from './linear-regex';

/**
 * JSON Schema (draft-07, with `$defs`) through ajv: is a document a schema, and does a value satisfy one. Registered
 * schemas come from tenants, so each is compiled by an ajv instance of its own (one schema's `$id` never clashes with
 * another tenant's, and nothing accumulates in a shared cache), and `format` is not checked (no format is trusted to
 * be cheap). ajv is loaded on first use: the Terraform provider imports the definitions but rarely needs it.
 */

export interface SchemaProblem {
  /** Dotted path inside the checked document (`properties.age.type`); '' for the document itself. */
  path: string;
  message: string;
}

/** A compiled schema: the problems of a value, none when it satisfies the schema. */
export type JsonValidator = (value: unknown) => SchemaProblem[];

/** The largest schema accepted, as JSON text: compiling is linear in its size, and it is compiled per node. */
export const MAX_SCHEMA_BYTES = 64 * 1024;

let ajvClass: typeof AjvClass | undefined;

/** `pattern` and `patternProperties` run in linear time (a tenant's schema checks answers on the data plane). */
const linearPatterns = Object.assign((pattern: string) => linearRegex(pattern), { code: 'linearRegex' });

function newAjv(): AjvClass {
  ajvClass ??= (require('ajv') as { default: typeof AjvClass }).default;
  return new ajvClass({
    strict: false,
    validateFormats: false,
    addUsedSchema: false,
    allErrors: false,
    code: { regExp: linearPatterns },
  });
}

/** `/properties/age/type` (a JSON pointer) as `properties.age.type`. */
const dotted = (pointer: string) =>
  pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');

/** What makes `document` not a usable JSON Schema: its meta-schema's complaints, else what stops it compiling. */
export function schemaProblems(document: unknown): SchemaProblem[] {
  if (document === null || typeof document !== 'object' || Array.isArray(document))
    return [{ path: '', message: 'must be a JSON Schema object' }];
  if (JSON.stringify(document).length > MAX_SCHEMA_BYTES)
    return [{ path: '', message: `must be at most ${MAX_SCHEMA_BYTES} bytes as JSON` }];
  const ajv = newAjv();
  if (!ajv.validateSchema(document)) {
    // the most specific complaint per place: ajv lists a failed anyOf after the branches that failed inside it
    const seen = new Set<string>();
    const problems: SchemaProblem[] = [];
    for (const e of ajv.errors ?? []) {
      const path = dotted(e.instancePath);
      if (seen.has(path)) continue;
      seen.add(path);
      problems.push({ path, message: `is not valid JSON Schema: ${e.message ?? 'invalid'}` });
    }
    return problems.slice(0, 10);
  }
  try {
    ajv.compile(document);
  } catch (err) {
    // an unresolvable $ref (remote ones are never fetched), a pattern that is not a regular expression
    return [{ path: '', message: `cannot be compiled: ${(err as Error).message}` }];
  }
  return [];
}

/** Compiles a schema that passed {@link schemaProblems}; a value's problems name their paths like input errors do. */
export function compileSchema(document: object): JsonValidator {
  const validate = newAjv().compile(document);
  return (value) => {
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e) => ({ path: dotted(e.instancePath), message: e.message ?? 'invalid' }));
  };
}

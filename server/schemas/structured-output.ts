import { ApiError } from '../errors';
import { compileSchema, type JsonValidator, type SchemaProblem } from '../lib/json-schema';
import type { SchemaDocumentState } from '../resources';
import type { ConfigSnapshot } from '../store/snapshot';

/** A JSON object: not null, not an array. */
const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The header that reports whether an answer satisfied the registered schema its request named. */
export const SCHEMA_CHECK_HEADER = 'x-portico-schema-validation';
/** The first problem of an answer that did not, for the caller to see why. */
export const SCHEMA_ERROR_HEADER = 'x-portico-schema-error';

/** How an answer fared against the registered schema of its request. */
export type SchemaOutcome = 'passed' | 'failed';

/** A chat request naming a registered schema: what goes upstream, and how its answer is checked. */
export interface RegisteredOutput {
  schemaId: string;
  /** The request body with the schema inlined in `response_format.json_schema.schema`. */
  chat: Record<string, unknown>;
  /** The problems of an answer's content (a JSON text), none when it satisfies the schema. */
  check(content: unknown): SchemaProblem[];
}

/** Compiled once per stored version of a schema: the snapshot replaces the entry when the schema changes. */
const compiled = new WeakMap<object, JsonValidator>();

function validatorOf(entry: SchemaDocumentState): JsonValidator {
  let v = compiled.get(entry);
  if (!v) {
    try {
      v = compileSchema(entry.schema);
    } catch (err) {
      // checked on write, so only data older than the check gets here: every answer fails, saying why
      const message = `the registered schema does not compile: ${(err as Error).message}`;
      v = () => [{ path: '', message }];
    }
    compiled.set(entry, v);
  }
  return v;
}

const invalid = (path: string, message: string) =>
  new ApiError('VALIDATION_FAILED', `${path} ${message}`, [{ path, message }]);

/**
 * `response_format: {type: "json_schema", json_schema: {id}}` (seed 001): the registered schema of that id, the
 * caller's tenant's own or else a global one, inlined as OpenAI expects it (`json_schema: {name, schema, …}`; other
 * fields the caller sent, such as `strict`, are kept). Undefined when the request names no registered schema; an
 * unknown id is a 400.
 */
export function registeredOutput(
  snapshot: ConfigSnapshot,
  tenantId: string,
  chat: Record<string, unknown>,
): RegisteredOutput | undefined {
  const format = chat.response_format;
  if (!isRecord(format) || format.type !== 'json_schema' || !isRecord(format.json_schema)) return undefined;
  const { id, ...rest } = format.json_schema;
  if (id === undefined) return undefined; // a schema sent inline: passed through as it is
  const at = 'response_format.json_schema';
  if (typeof id !== 'string' || !id) throw invalid(`${at}.id`, 'must be the id of a registered schema');
  if (rest.schema !== undefined) throw invalid(`${at}.schema`, 'must be left out when id names a registered schema');
  const entry = snapshot.get('schema', id, tenantId);
  if (!entry) throw invalid(`${at}.id`, `names no registered schema ("${id}")`);
  const name = typeof rest.name === 'string' ? rest.name : id.replace(/[^a-zA-Z0-9_-]/g, '_');
  const json_schema = { ...rest, name, schema: entry.schema };
  const validate = validatorOf(entry);
  return {
    schemaId: id,
    chat: { ...chat, response_format: { ...format, json_schema } },
    check: (content) => {
      if (typeof content !== 'string') return [{ path: '', message: 'the answer has no text content' }];
      let value: unknown;
      try {
        value = JSON.parse(content);
      } catch {
        return [{ path: '', message: 'the answer is not JSON' }];
      }
      return validate(value);
    },
  };
}

/** The outcome for a non-streamed answer: every choice's message content must satisfy the schema. */
export function checkAnswer(output: RegisteredOutput, answer: Record<string, unknown>): SchemaProblem[] {
  const choices = Array.isArray(answer.choices) ? answer.choices : [];
  if (!choices.length) return [{ path: '', message: 'the answer has no choices' }];
  for (const [i, choice] of choices.entries()) {
    const content = isRecord(choice) && isRecord(choice.message) ? choice.message.content : undefined;
    const problems = output.check(content);
    const at = `choices.${i}.message.content`;
    if (problems.length) return problems.map((p) => ({ ...p, path: p.path ? `${at}.${p.path}` : at }));
  }
  return [];
}

/** A header-safe one-line account of a problem (printable ASCII, bounded). */
export function describeProblem(p: SchemaProblem): string {
  const text = p.path ? `${p.path}: ${p.message}` : p.message;
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 300);
}

/**
 * Reports an answer's outcome: the header (and, when it failed, its first problem), the request log's
 * `schema_validation`. On a route with `schema_enforcement: "reject"` a failed answer becomes a 502 to throw.
 */
export function reportOutcome(
  output: RegisteredOutput,
  answer: Record<string, unknown>,
  reply: { header(name: string, value: string): unknown },
  traffic: { schemaValidation?: SchemaOutcome } | undefined,
  route: { schema_enforcement: 'report' | 'reject' },
): ApiError | undefined {
  const problems = checkAnswer(output, answer);
  const outcome: SchemaOutcome = problems.length ? 'failed' : 'passed';
  if (traffic) traffic.schemaValidation = outcome;
  reply.header(SCHEMA_CHECK_HEADER, outcome);
  if (!problems.length) return undefined;
  const first = describeProblem(problems[0]!);
  reply.header(SCHEMA_ERROR_HEADER, first);
  if (route.schema_enforcement !== 'reject') return undefined;
  return new ApiError('SCHEMA_VIOLATION', `The answer does not satisfy the schema "${output.schemaId}": ${first}`);
}

/**
 * A streamed answer is checked when it has ended (its headers are long gone): the outcome goes to the request log
 * only. A stream the client left early, or one with no content, is left unchecked.
 */
export function reportStreamOutcome(
  output: RegisteredOutput,
  content: string | undefined,
  traffic: { schemaValidation?: SchemaOutcome; left?: boolean } | undefined,
): void {
  if (!traffic || traffic.left || !content) return;
  traffic.schemaValidation = output.check(content).length ? 'failed' : 'passed';
}

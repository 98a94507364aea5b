import type {
  FastifyPluginAsync,
  FastifySchemaCompiler,
  FastifySerializerCompiler,
  FastifyTypeProvider,
} from 'fastify';
import fp from 'fastify-plugin';
import type { z } from 'zod';
import { validationError } from '../errors';
import { issuesToDetails } from './zod-errors';

/**
 * Route schemas are zod schemas, in fastify's own `schema` option: `params` and `querystring` are validated by the
 * compiler below, `body` and `response` document the route, and `summary`, `tags` and `security` (as
 * @fastify/swagger reads them) complete its OpenAPI operation. One schema both validates and documents.
 */
declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
    tags?: string[];
    /** `[]` for a route that needs no bearer token. */
    security?: Record<string, string[]>[];
  }
}

/** Types `request.query`, `request.params` and `request.body` from the route's zod schemas. */
export interface ZodTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends z.ZodType ? z.output<this['schema']> : unknown;
  // replies are not checked against their documented shape (a handler may return what its schema only describes)
  serializer: unknown;
}

/** A response documented as text of the given media type (`reply.send(string)`: never serialized). */
export const textResponse = (mediaType: string, schema: z.ZodType) => ({ content: { [mediaType]: { schema } } });

const CHECKED_BY_HANDLER = new WeakSet<z.ZodType>();

/**
 * Marks a body schema that its handler checks, not the route: resource writes validate their body after the scope
 * and role checks, so a caller who may not write gets its 403 (and a scope violation its audit event), not a 400
 * about fields. The schema is still the one the handler parses with, and the one the document shows.
 */
export function checkedByHandler<T extends z.ZodType>(schema: T): T {
  CHECKED_BY_HANDLER.add(schema);
  return schema;
}

const unchecked = () => true;

/**
 * Validates a request part with its zod schema: the parsed value replaces it (coerced numbers, defaults), and a
 * failure is our 400 VALIDATION_FAILED with one detail per problem, at the field's path.
 */
export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => {
  if (httpPart === 'body' && CHECKED_BY_HANDLER.has(schema)) return unchecked;
  // fastify hands a missing part over as null; an absent query is an empty one
  const empty = httpPart === 'body' ? null : {};
  return (data: unknown) => {
    const parsed = schema.safeParse(data ?? empty);
    return parsed.success ? { value: parsed.data } : { error: validationError(issuesToDetails(parsed.error)) };
  };
};

/** Replies are written as JSON.stringify writes them, as they are without a schema: response schemas document. */
export const jsonSerializerCompiler: FastifySerializerCompiler<z.ZodType> = () => (data) => JSON.stringify(data);

/** The name route plugins list among their dependencies: their schemas need these compilers. */
export const ZOD_SCHEMAS = 'portico-zod-schemas';

/** Sets both compilers on the app it is registered on, for every route of every surface below it. */
export const zodRouteSchemas: FastifyPluginAsync = fp(
  async (app) => {
    app.setValidatorCompiler(zodValidatorCompiler);
    app.setSerializerCompiler(jsonSerializerCompiler);
  },
  { name: ZOD_SCHEMAS },
);

import type { FastifySchema, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { ZOD_SCHEMAS } from '../http/route-schemas';

export interface DocumentedRoute {
  method: string;
  url: string;
  schema: FastifySchema;
}

interface ApiInfo {
  title: string;
  version: string;
}

interface DocumentOptions extends ApiInfo {
  /** Where the document is served; `/v1/admin/openapi.json` unless given. */
  path?: string;
  /** Serve the HTML page `/docs` too (the admin API's document does). */
  docsPage?: boolean;
  /** Routes left out (another document describes them: the node admin API's `/admin/*`). */
  skip?: RegExp;
}

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') =>
  z.toJSONSchema(schema, { io, unrepresentable: 'any' });

/** A schema inside a parameter or a text response, where the document has always shown it bare (no `$schema`). */
const bareSchema = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _, ...rest } = jsonSchema(schema, io);
  return rest;
};

/** The fields of a zod object schema (a route's `querystring` or `params`), or none. */
const fieldsOf = (schema: unknown): Record<string, z.ZodType> =>
  schema instanceof z.ZodObject ? (schema.shape as Record<string, z.ZodType>) : {};

/**
 * The OpenAPI document and its docs page (`/v1/admin/openapi.json`, `/docs`), built from the `schema` of every route
 * registered after this plugin (as @fastify/swagger does in onRoute): the schemas that validate a route document it,
 * so the document cannot drift from the routes. A route without a `summary` is left out.
 */
export const openApi = fp<DocumentOptions>(
  async (app, { path = '/v1/admin/openapi.json', docsPage = true, skip, title, version }) => {
    const info = { title, version };
    const routes: DocumentedRoute[] = [];
    app.addHook('onRoute', (route: RouteOptions) => {
      const schema = route.schema;
      // the tenant portal (`/api/*`) has a document of its own, /api/openapi.json
      if (!schema?.summary || route.url.startsWith('/api/') || skip?.test(route.url)) return;
      for (const method of ([] as string[]).concat(route.method)) {
        if (method !== 'HEAD') routes.push({ method: method.toLowerCase(), url: route.url, schema });
      }
    });
    let doc: object | undefined;
    const document = () => (doc ??= build(routes, info));
    app.get(path, async () => document());
    if (docsPage)
      app.get('/docs', async (_req, reply) => reply.type('text/html; charset=utf-8').send(renderDocsPage(document())));
  },
  { name: 'portico-openapi', dependencies: [ZOD_SCHEMAS] },
);

/** One documented response: JSON, text of some media type (`{content}`), or none (`z.null()`, as for a 204). */
function response(status: string, schema: unknown): object {
  const description = Number(status) < 300 ? 'Success' : 'Error';
  if (schema instanceof z.ZodNull) return { description };
  if (schema instanceof z.ZodType) {
    return { description, content: { 'application/json': { schema: jsonSchema(schema, 'output') } } };
  }
  const content = (schema as { content: Record<string, { schema: z.ZodType }> }).content;
  const media = Object.entries(content).map(([type, c]) => [type, { schema: bareSchema(c.schema, 'output') }]);
  return { description, content: Object.fromEntries(media) };
}

function operation(path: string, schema: FastifySchema): object {
  const pathFields = fieldsOf(schema.params);
  const params = [...path.matchAll(/\{([A-Za-z_]+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: pathFields[name!] ? bareSchema(pathFields[name!]!, 'input') : { type: 'string' },
  }));
  const query = Object.entries(fieldsOf(schema.querystring)).map(([name, s]) => ({
    name,
    in: 'query',
    required: !s.safeParse(undefined).success,
    schema: jsonSchema(s, 'input'),
  }));
  const responses: Record<string, unknown> = {};
  for (const [status, s] of Object.entries((schema.response ?? {}) as Record<string, unknown>)) {
    responses[status] = response(status, s);
  }
  const error = { schema: { $ref: '#/components/schemas/Error' } };
  responses.default = { description: 'Error', content: { 'application/json': error } };
  const body = schema.body as z.ZodType | undefined;
  const requestBody = body && {
    required: true,
    content: { 'application/json': { schema: jsonSchema(body, 'input') } },
  };
  return {
    summary: schema.summary,
    tags: schema.tags,
    parameters: [...params, ...query],
    ...(requestBody ? { requestBody } : {}),
    responses,
    ...(schema.security ? { security: schema.security } : {}),
  };
}

const ERROR_SCHEMA = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        details: {
          type: 'array',
          items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
        },
      },
    },
  },
};

export function build(routes: DocumentedRoute[], info: ApiInfo): object {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { method, url, schema } of routes) {
    const path = url.replace(/:([A-Za-z_]+)/g, '{$1}');
    (paths[path] ??= {})[method] = operation(path, schema);
  }
  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: { Error: ERROR_SCHEMA } },
  };
}

const escape = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A self-contained HTML page listing every operation of the document, with its schemas (no external assets). */
export function renderDocsPage(doc: any): string {
  const sections: Record<string, string[]> = {};
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      const body = op.requestBody
        ? `<details><summary>Request body</summary><pre>${escape(JSON.stringify(op.requestBody.content['application/json'].schema, null, 2))}</pre></details>`
        : '';
      const ok = Object.entries<any>(op.responses).find(([s]) => s.startsWith('2'));
      const res = ok?.[1]?.content?.['application/json']
        ? `<details><summary>Response ${ok[0]}</summary><pre>${escape(JSON.stringify(ok[1].content['application/json'].schema, null, 2))}</pre></details>`
        : '';
      (sections[op.tags[0]] ??= []).push(
        `<div class="op"><span class="m ${method}">${method.toUpperCase()}</span> <code>${escape(path)}</code> — ${escape(op.summary)}${body}${res}</div>`,
      );
    }
  }
  const toc = Object.keys(sections)
    .map((t) => `<a href="#${escape(t)}">${escape(t)}</a>`)
    .join(' · ');
  const body = Object.entries(sections)
    .map(([t, ops]) => `<h2 id="${escape(t)}">${escape(t)}</h2>${ops.join('\n')}`)
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(doc.info.title)}</title>
<style>body{font:14px system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em}code{font-size:13px}.op{padding:.4em 0;border-bottom:1px solid #eee}
.m{display:inline-block;width:4.5em;font-weight:600}.get{color:#0a6}.post{color:#06c}.put{color:#c70}.delete{color:#c22}pre{background:#f6f6f6;padding:.6em;overflow:auto}</style></head>
<body><h1>${escape(doc.info.title)} ${escape(doc.info.version)}</h1><p>Machine-readable: <a href="/v1/admin/openapi.json">/v1/admin/openapi.json</a>. Authenticate with <code>Authorization: Bearer &lt;token&gt;</code>.</p><p>${toc}</p>${body}</body></html>`;
}

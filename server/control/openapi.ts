import type { FastifyInstance, RouteOptions } from 'fastify';
import { z } from 'zod';

/** What a route says about itself for the OpenAPI document (route option `config.openapi`). */
export interface OpenApiMeta {
  summary: string;
  tag: string;
  body?: z.ZodType;
  query?: z.ZodObject;
  /** Status → body schema; `null` for no body. */
  responses: Record<number, z.ZodType | null | 'text'>;
  public?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    openapi?: OpenApiMeta;
  }
}

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(schema, { io, unrepresentable: 'any' });

/**
 * Collects every route registered with `config.openapi` (as @fastify/swagger does in onRoute), so the document is
 * built from the routes themselves and cannot drift from them.
 */
export function collectOpenApi(app: FastifyInstance, info: { title: string; version: string }): () => object {
  const routes: { method: string; url: string; meta: OpenApiMeta }[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const meta = route.config?.openapi;
    if (!meta) return;
    for (const method of ([] as string[]).concat(route.method)) if (method !== 'HEAD') routes.push({ method: method.toLowerCase(), url: route.url, meta });
  });
  let doc: object | undefined;
  return () => (doc ??= build(routes, info));
}

function build(routes: { method: string; url: string; meta: OpenApiMeta }[], info: { title: string; version: string }): object {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { method, url, meta } of routes) {
    const path = url.replace(/:([a-z_]+)/g, '{$1}');
    const params = [...path.matchAll(/\{([a-z_]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query = meta.query
      ? Object.entries(meta.query.shape).map(([name, s]) => ({ name, in: 'query', required: !(s as z.ZodType).safeParse(undefined).success, schema: jsonSchema(s as z.ZodType, 'input') }))
      : [];
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(meta.responses)) {
      responses[status] = {
        description: Number(status) < 300 ? 'Success' : 'Error',
        ...(schema === 'text' ? { content: { 'text/plain': { schema: { type: 'string' } } } } : schema ? { content: { 'application/json': { schema: jsonSchema(schema, 'output') } } } : {}),
      };
    }
    responses.default = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    (paths[path] ??= {})[method] = {
      summary: meta.summary,
      tags: [meta.tag],
      parameters: [...params, ...query],
      ...(meta.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(meta.body, 'input') } } } } : {}),
      responses,
      ...(meta.public ? { security: [] } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          properties: {
            error: {
              type: 'object',
              properties: {
                code: { type: 'string' },
                message: { type: 'string' },
                details: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
              },
            },
          },
        },
      },
    },
  };
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A self-contained HTML page listing every operation of the document, with its schemas (no external assets). */
export function renderDocsPage(doc: any): string {
  const sections: Record<string, string[]> = {};
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      const body = op.requestBody ? `<details><summary>Request body</summary><pre>${escape(JSON.stringify(op.requestBody.content['application/json'].schema, null, 2))}</pre></details>` : '';
      const ok = Object.entries<any>(op.responses).find(([s]) => s.startsWith('2'));
      const res = ok?.[1]?.content?.['application/json'] ? `<details><summary>Response ${ok[0]}</summary><pre>${escape(JSON.stringify(ok[1].content['application/json'].schema, null, 2))}</pre></details>` : '';
      (sections[op.tags[0]] ??= []).push(`<div class="op"><span class="m ${method}">${method.toUpperCase()}</span> <code>${escape(path)}</code> — ${escape(op.summary)}${body}${res}</div>`);
    }
  }
  const toc = Object.keys(sections).map((t) => `<a href="#${escape(t)}">${escape(t)}</a>`).join(' · ');
  const body = Object.entries(sections).map(([t, ops]) => `<h2 id="${escape(t)}">${escape(t)}</h2>${ops.join('\n')}`).join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(doc.info.title)}</title>
<style>body{font:14px system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em}code{font-size:13px}.op{padding:.4em 0;border-bottom:1px solid #eee}
.m{display:inline-block;width:4.5em;font-weight:600}.get{color:#0a6}.post{color:#06c}.put{color:#c70}.delete{color:#c22}pre{background:#f6f6f6;padding:.6em;overflow:auto}</style></head>
<body><h1>${escape(doc.info.title)} ${escape(doc.info.version)}</h1><p>Machine-readable: <a href="/v1/admin/openapi.json">/v1/admin/openapi.json</a>. Authenticate with <code>Authorization: Bearer &lt;token&gt;</code>.</p><p>${toc}</p>${body}</body></html>`;
}

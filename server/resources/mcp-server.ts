import { z } from 'zod';
import { defineResource, name, secretVersion } from './define';

/** One tool of a server's cached catalog, as `tools/list` described it. */
const cachedTool = z.object({
  name: z.string(),
  description: z.string().nullable(),
  input_schema: z.record(z.string(), z.unknown()),
});

/**
 * An MCP server the gateway proxies (`/mcp/{id}` on the data plane) and checks: its URL, transport and an optional
 * auth header sent upstream, sealed like a provider key. Tenant-owned or global (shared with every tenant), like routes.
 */
export const mcpServer = defineResource({
  kind: 'mcp_server',
  title: 'MCP server',
  plural: 'MCP servers',
  description:
    'An MCP server reached over streamable HTTP or SSE. Its auth header is stored encrypted and never read back; `POST …/{id}/tools/refresh` caches its tool catalog.',
  path: '/mcp-servers',
  exportKey: 'mcp_servers',
  scope: 'tenant-optional',
  area: 'mcp',
  id: { source: 'either', prefix: 'mcp_' },
  fields: z.strictObject({
    name: name().describe('A label.'),
    url: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .max(2048)
      .describe('The MCP endpoint: the streamable HTTP endpoint, or the SSE stream of the older transport.'),
    transport: z
      .enum(['streamable-http', 'sse'])
      .default('streamable-http')
      .describe('How the gateway talks to it: `streamable-http` (MCP 2025-03-26 and later) or `sse` (2024-11-05).'),
    auth_header_name: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name')
      .default('Authorization')
      .describe('The header that carries `auth_header` upstream.'),
    enabled: z.boolean().default(true).describe('A disabled server is not proxied.'),
    timeout_ms: z.number().int().min(100).max(600_000).default(30_000).describe('Per upstream call, in milliseconds.'),
    auth_header_version: secretVersion('auth header'),
  }),
  computed: z.strictObject({
    tools: z.array(cachedTool).default([]).describe('The tool catalog as last refreshed.'),
    tools_refreshed_at: z.iso
      .datetime({ offset: true })
      .nullable()
      .default(null)
      .describe('When the catalog was last refreshed.'),
  }),
  targets: ['url'],
  secret: {
    mode: 'encrypted',
    field: 'auth_header',
    versionField: 'auth_header_version',
    inSnapshot: true,
  },
  audit: {
    created: 'MCP_SERVER_CREATED',
    updated: 'MCP_SERVER_UPDATED',
    deleted: 'MCP_SERVER_DELETED',
    fieldEvents: { tools: 'MCP_SERVER_TOOLS_REFRESHED' },
  },
});

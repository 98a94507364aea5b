import { z } from 'zod';
import type { Gateway } from '../gateway';
import { routePlugin } from '../http/route-plugin';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import { ApiError } from '../errors';
import { diffFields } from '../lib/diff';
import { decryptSecret } from '../lib/secrets';
import { mcpServer as mcpDef } from '../resources';
import { egressOf } from '../net/egress';
import * as store from '../store/resource-store';
import type { StoredResource } from '../store/resource-store';
import { BEARER_AUTH } from '../control/authenticate';
import { callContext } from '../control/request-state';
import { loadVisible } from '../control/resource-lookup';
import { resourceEvent } from '../control/resource-events';
import { ownerQuery, targetOf } from '../control/resource-routes';
import type { ResourceService } from '../control/resource-service';
import { sessionsOf } from './sessions';
import { checkServer, listServerTools, type UpstreamServer } from './upstream-client';

const params = z.object({ id: z.string() });
const toolSchema = z.object({
  name: z.string(),
  description: z.string().nullable(),
  input_schema: z.record(z.string(), z.unknown()),
});
const toolList = z.object({
  object: z.literal('list'),
  data: z.array(toolSchema),
  refreshed_at: z.string().nullable(),
});
const checkSchema = z.object({
  reachable: z.boolean(),
  latency_ms: z.number(),
  protocol_version: z.string().nullable(),
  server_name: z.string().nullable(),
  server_version: z.string().nullable(),
  error: z.string().nullable(),
});
const sessionsSchema = z.object({ active_sessions: z.number(), total_sessions: z.number() });

/** How to call a stored server: its fields, its opened auth header, and its owner's egress rules. */
function callOf(gw: Gateway, row: StoredResource) {
  const server = row.data as unknown as UpstreamServer;
  const header = row.secret ? decryptSecret(gw.keys.masterKey, row.secret) : null;
  return { server, header, egress: egressOf(gw.config.egressAllow, row) };
}

const toolsOf = (row: StoredResource) => ({
  object: 'list' as const,
  data: (row.data.tools ?? []) as z.infer<typeof toolSchema>[],
  refreshed_at: (row.data.tools_refreshed_at ?? null) as string | null,
});

/**
 * `POST /mcp-servers/{id}/check` (initialize handshake: reachable, latency, protocol version), `POST …/tools/refresh`
 * (`tools/list`, cached on the resource), `GET …/tools` (the cached catalog), `GET …/sessions` (proxy sessions). The
 * upstream calls obey the owner's egress rules: a tenant's server reaches public addresses only.
 */
export const mcpAdminRoutes = routePlugin<{ gw: Gateway; service: ResourceService }>(
  'portico-mcp-admin-routes',
  [ZOD_SCHEMAS, BEARER_AUTH],
  async (app, { gw, service }) => {
    const tags = [mcpDef.plural];
    const read = { params, querystring: ownerQuery };

    app.post(
      '/mcp-servers/:id/check',
      {
        schema: { summary: 'Check connectivity: initialize handshake', tags, ...read, response: { 200: checkSchema } },
      },
      async (req) => {
        // checking makes the gateway call out: write access, as for a webhook test
        const row = await service.loadParent(callContext(req), mcpDef, targetOf(req), 'write');
        const { server, header, egress } = callOf(gw, row);
        return checkServer(server, header, egress);
      },
    );

    app.post(
      '/mcp-servers/:id/tools/refresh',
      {
        schema: {
          summary: 'Fetch (tools/list) and cache the tool catalog',
          tags,
          ...read,
          response: { 200: toolList },
        },
      },
      async (req) => {
        const ctx = callContext(req);
        const row = await service.loadParent(ctx, mcpDef, targetOf(req), 'write');
        const { server, header, egress } = callOf(gw, row);
        const listed = await listServerTools(server, header, egress);
        if (!listed.ok) throw new ApiError('UPSTREAM_ERROR', `MCP server "${row.id}": ${listed.error}`);
        const updated = await gw.db.transaction().execute(async (t) => {
          // the same server, locked, in case it changed while the upstream answered
          const current = await loadVisible(
            t,
            ctx,
            mcpDef,
            { id: row.id, owner: row.tenant_id ?? undefined },
            {
              lock: true,
            },
          );
          const data = { ...current.data, tools: listed.tools, tools_refreshed_at: new Date().toISOString() };
          const saved = await store.updateResource(t, current, { data });
          const changes = diffFields({ tools: current.data.tools }, { tools: data.tools });
          await gw.audit.append(t, [resourceEvent(ctx, mcpDef, 'MCP_SERVER_TOOLS_REFRESHED', saved, changes)]);
          return saved;
        });
        return toolsOf(updated);
      },
    );

    app.get(
      '/mcp-servers/:id/tools',
      { schema: { summary: 'The cached tool catalog', tags, ...read, response: { 200: toolList } } },
      async (req) => toolsOf(await service.loadParent(callContext(req), mcpDef, targetOf(req), 'read')),
    );

    app.get(
      '/mcp-servers/:id/sessions',
      {
        schema: {
          summary: 'Sessions of the MCP proxy to this server',
          tags,
          ...read,
          response: { 200: sessionsSchema },
        },
      },
      async (req) => {
        const row = await service.loadParent(callContext(req), mcpDef, targetOf(req), 'read');
        return sessionsOf(gw).countsFor(row.tenant_id, row.id);
      },
    );
  },
);

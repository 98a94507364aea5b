import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors';
import { routePlugin } from '../http/route-plugin';
import { egressOf, neutralFailure } from '../net/egress';
import { TRAFFIC, type DataPlane } from '../data/data-plane';
import { sessionsOf } from './sessions';
import { sseProxyRoutes } from './sse-proxy';
import { decisions, heldAnswer, parseBody, serverFor, upstreamHeaders } from './tool-calls';

/** Request headers of MCP's HTTP transports that go upstream; everything else (the caller's Portico key) stays. */
const FORWARDED = ['accept', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id'];
/** Response headers that come back. */
const RETURNED = ['content-type', 'mcp-session-id', 'cache-control', 'mcp-protocol-version'];
/**
 * The MCP proxy, `/mcp/{server_id}`: a Portico API key reaches its tenant's servers and global ones; JSON-RPC goes
 * to the server's streamable HTTP endpoint with the server's sealed auth header, responses (JSON or SSE streams)
 * come back as they are. Every `tools/call` is first put to the tool gate (./tool-gate.ts). Sessions the upstream
 * opens (`mcp-session-id`) are counted; each request is one request-log row.
 */
export const mcpProxy = routePlugin<{ dp: DataPlane }>('portico-mcp-proxy', [], async (app, { dp }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const handler = async (req: FastifyRequest<{ Params: { server_id: string } }>, reply: FastifyReply) => {
    const caller = dp.authenticate(req);
    const server = serverFor(dp, caller, req.params.server_id);
    if (server.transport !== 'streamable-http')
      throw new ApiError('VALIDATION_FAILED', `MCP server "${server.id}" speaks SSE: open /mcp/${server.id}/sse`);
    const traffic = req[TRAFFIC]!;
    const sessionId = (req.headers['mcp-session-id'] as string | undefined) ?? null;
    const body = req.method === 'POST' ? (req.body as Buffer | undefined) : undefined;
    const parsed = parseBody(body);
    if (parsed !== undefined) {
      const messages = Array.isArray(parsed) ? parsed : [parsed];
      const verdicts = await decisions(dp, caller, server, sessionId, messages);
      if (verdicts.some((d) => d.action === 'hold')) {
        if (sessionId) sessionsOf(dp.gw).seen(server.tenant_id, server.id, sessionId);
        return reply.status(200).send(heldAnswer(messages, verdicts, Array.isArray(parsed)));
      }
    }

    const given: Record<string, string> = {};
    for (const name of FORWARDED) {
      const v = req.headers[name];
      if (typeof v === 'string') given[name] = v;
    }
    const headers = upstreamHeaders(dp, server, given);
    const abort = new AbortController();
    traffic.whileHere({ stop: () => abort.abort() });
    const egress = egressOf(dp.gw.config.egressAllow, server);
    let res;
    try {
      res = await egress.dispatcher.request({
        origin: new URL(server.url).origin,
        path: new URL(server.url).pathname + new URL(server.url).search,
        method: req.method as 'GET' | 'POST' | 'DELETE',
        headers,
        body,
        signal: abort.signal,
        headersTimeout: server.timeout_ms,
        bodyTimeout: 0,
      });
    } catch (err) {
      traffic.upstream = `MCP server "${server.id}"`;
      if (traffic.left) return reply;
      const code = (err as Error).name === 'HeadersTimeoutError' ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_ERROR';
      throw new ApiError(code, `MCP server "${server.id}": ${neutralFailure(err)}`);
    }
    const upstreamSession = res.headers['mcp-session-id'];
    const sessions = sessionsOf(dp.gw);
    if (typeof upstreamSession === 'string') sessions.seen(server.tenant_id, server.id, upstreamSession);
    else if (sessionId && res.statusCode < 400) sessions.seen(server.tenant_id, server.id, sessionId);
    if (req.method === 'DELETE' && sessionId && res.statusCode < 300)
      sessions.ended(server.tenant_id, server.id, sessionId);
    if (sessionId && res.statusCode === 404) sessions.ended(server.tenant_id, server.id, sessionId);
    reply.status(res.statusCode);
    for (const name of RETURNED) {
      const v = res.headers[name];
      if (typeof v === 'string') reply.header(name, v);
    }
    return reply.send(res.body);
  };

  app.route({ method: ['GET', 'POST', 'DELETE'], url: '/mcp/:server_id', handler });
  sseProxyRoutes(app, dp);
});

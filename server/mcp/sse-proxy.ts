import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { ApiError } from '../errors';
import { egressOf, neutralFailure } from '../net/egress';
import type { McpServerState } from '../resources';
import { TRAFFIC, type DataPlane } from '../data/data-plane';
import { sessionsOf } from './sessions';
import { decisions, heldAnswer, parseBody, serverFor, upstreamHeaders } from './tool-calls';

/**
 * The older SSE transport (MCP 2024-11-05) through the proxy: `GET /mcp/{id}/sse` opens the server's stream, whose
 * `endpoint` event is replaced by our own `/mcp/{id}/messages?session=…`; POSTs there go to the server's endpoint
 * (kept here, never shown to the client). A held tool call is answered on the client's stream, as the server would.
 */
interface SseSession {
  server: McpServerState;
  tenantId: string;
  /** The upstream's message endpoint, once its `endpoint` event came. */
  endpoint?: URL;
  /** The client's stream: events are written whole, so an injected one never splits another. */
  out: PassThrough;
}

const sessions = new Map<string, SseSession>();

/** Rewrites one SSE event block: the `endpoint` event's URL becomes ours; anything else passes unchanged. */
function rewriteEvent(block: string, session: SseSession, token: string, serverId: string): string {
  const lines = block.split(/\r?\n/);
  if (!lines.some((l) => /^event:\s*endpoint\s*$/.test(l))) return block;
  const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart());
  session.endpoint = new URL(data.join('\n'), session.server.url);
  return `event: endpoint\ndata: /mcp/${encodeURIComponent(serverId)}/messages?session=${token}`;
}

async function openStream(dp: DataPlane, req: FastifyRequest<{ Params: { server_id: string } }>, reply: FastifyReply) {
  const caller = dp.authenticate(req);
  const server = serverFor(dp, caller, req.params.server_id);
  if (server.transport !== 'sse') throw new ApiError('VALIDATION_FAILED', `MCP server "${server.id}" is not SSE`);
  const abort = new AbortController();
  req[TRAFFIC]!.whileHere({ stop: () => abort.abort() });
  const url = new URL(server.url);
  let res;
  try {
    res = await egressOf(dp.gw.config.egressAllow, server).dispatcher.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: 'GET',
      headers: upstreamHeaders(dp, server, { accept: 'text/event-stream' }),
      signal: abort.signal,
      headersTimeout: server.timeout_ms,
      bodyTimeout: 0,
    });
  } catch (err) {
    throw new ApiError('UPSTREAM_ERROR', `MCP server "${server.id}": ${neutralFailure(err)}`);
  }
  if (res.statusCode !== 200) {
    res.body.resume();
    throw new ApiError('UPSTREAM_ERROR', `MCP server "${server.id}" answered ${res.statusCode}`);
  }
  const token = randomBytes(18).toString('base64url');
  const session: SseSession = { server, tenantId: caller.tenant.id, out: new PassThrough() };
  sessions.set(token, session);
  const counts = sessionsOf(dp.gw);
  counts.seen(server.tenant_id, server.id, token);
  let pending = '';
  res.body.setEncoding('utf8');
  res.body.on('data', (chunk: string) => {
    pending += chunk;
    const blocks = pending.split(/\r?\n\r?\n/);
    pending = blocks.pop()!;
    for (const b of blocks) session.out.write(`${rewriteEvent(b, session, token, req.params.server_id)}\n\n`);
  });
  const end = () => {
    sessions.delete(token);
    counts.ended(server.tenant_id, server.id, token);
    session.out.end();
    abort.abort();
  };
  res.body.on('end', end);
  res.body.on('error', end);
  reply.raw.on('close', end);
  reply.header('content-type', 'text/event-stream').header('cache-control', 'no-cache');
  return reply.send(session.out);
}

async function postMessage(
  dp: DataPlane,
  req: FastifyRequest<{ Params: { server_id: string }; Querystring: { session?: string } }>,
  reply: FastifyReply,
) {
  const caller = dp.authenticate(req);
  const server = serverFor(dp, caller, req.params.server_id);
  const session = sessions.get(req.query.session ?? '');
  // another tenant's (or server's) session is as unknown as a made-up one
  if (!session || session.tenantId !== caller.tenant.id || session.server.id !== server.id || !session.endpoint)
    throw new ApiError('NOT_FOUND', 'Unknown MCP session');
  const body = req.body as Buffer | undefined;
  const parsed = parseBody(body);
  if (parsed !== undefined) {
    const messages = Array.isArray(parsed) ? parsed : [parsed];
    const verdicts = await decisions(dp, caller, server, req.query.session!, messages);
    if (verdicts.some((d) => d.action === 'hold')) {
      session.out.write(
        `event: message\ndata: ${JSON.stringify(heldAnswer(messages, verdicts, Array.isArray(parsed)))}\n\n`,
      );
      return reply.status(202).send('Accepted');
    }
  }
  let res;
  try {
    res = await egressOf(dp.gw.config.egressAllow, server).dispatcher.request({
      origin: session.endpoint.origin,
      path: session.endpoint.pathname + session.endpoint.search,
      method: 'POST',
      headers: upstreamHeaders(dp, server, { 'content-type': 'application/json' }),
      body,
      headersTimeout: server.timeout_ms,
    });
  } catch (err) {
    throw new ApiError('UPSTREAM_ERROR', `MCP server "${server.id}": ${neutralFailure(err)}`);
  }
  reply.status(res.statusCode);
  if (typeof res.headers['content-type'] === 'string') reply.header('content-type', res.headers['content-type']);
  return reply.send(res.body);
}

/** The SSE transport's two routes, on the MCP proxy's plugin. */
export function sseProxyRoutes(app: FastifyInstance, dp: DataPlane): void {
  app.get<{ Params: { server_id: string } }>('/mcp/:server_id/sse', (req, reply) => openStream(dp, req, reply));
  app.post<{ Params: { server_id: string }; Querystring: { session?: string } }>(
    '/mcp/:server_id/messages',
    (req, reply) => postMessage(dp, req, reply),
  );
}

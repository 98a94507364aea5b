import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/**
 * A real MCP server (the official SDK's) on loopback, as the upstream of the MCP suites: streamable HTTP at `/mcp`
 * (stateful sessions) and the older SSE transport at `/sse` + `/messages`. Tools: `add` and `delete_everything`.
 * It records the headers of every request, so a suite can see what the gateway sent.
 */
export interface McpUpstream {
  url: string;
  /** Headers of every request received, in order. */
  requests: { method: string; path: string; headers: IncomingHttpHeaders }[];
  /** Names of the tools called, in order. */
  called: string[];
  close(): Promise<void>;
}

function mcpServer(called: string[]): McpServer {
  const server = new McpServer({ name: 'test-upstream', version: '1.2.3' });
  server.registerTool(
    'add',
    { description: 'Adds two numbers', inputSchema: { a: z.number(), b: z.number() } },
    async ({ a, b }) => {
      called.push('add');
      return { content: [{ type: 'text', text: String(a + b) }] };
    },
  );
  server.registerTool('delete_everything', { description: 'Dangerous', inputSchema: {} }, async () => {
    called.push('delete_everything');
    return { content: [{ type: 'text', text: 'deleted' }] };
  });
  return server;
}

export async function startMcpUpstream(): Promise<McpUpstream> {
  const requests: McpUpstream['requests'] = [];
  const called: string[] = [];
  const streamable = new Map<string, StreamableHTTPServerTransport>();
  const sse = new Map<string, SSEServerTransport>();
  const http: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push({ method: req.method ?? '', path: url.pathname, headers: req.headers });
    try {
      if (url.pathname === '/mcp') {
        const id = req.headers['mcp-session-id'] as string | undefined;
        let transport = id ? streamable.get(id) : undefined;
        if (!transport && !id && req.method === 'POST') {
          transport = new StreamableHTTPServerTransport({
            sessionIdGenerator: randomUUID,
            onsessioninitialized: (sid) => void streamable.set(sid, transport!),
          });
          transport.onclose = () => void (transport!.sessionId && streamable.delete(transport!.sessionId));
          await mcpServer(called).connect(transport);
        }
        if (!transport) return void res.writeHead(404).end('unknown session');
        return await transport.handleRequest(req, res);
      }
      if (url.pathname === '/sse' && req.method === 'GET') {
        const transport = new SSEServerTransport('/messages', res);
        sse.set(transport.sessionId, transport);
        res.on('close', () => sse.delete(transport.sessionId));
        return await mcpServer(called).connect(transport);
      }
      if (url.pathname === '/messages' && req.method === 'POST') {
        const transport = sse.get(url.searchParams.get('sessionId') ?? '');
        if (!transport) return void res.writeHead(404).end('unknown session');
        return await transport.handlePostMessage(req, res);
      }
      res.writeHead(404).end();
    } catch (err) {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    called,
    async close() {
      for (const t of streamable.values()) await t.close();
      for (const t of sse.values()) await t.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { fetch as undiciFetch } from 'undici';
import { isEgressDenied, neutralFailure, type Egress } from '../net/egress';

/** What the gateway needs of a registered MCP server to talk to it. */
export interface UpstreamServer {
  url: string;
  transport: 'streamable-http' | 'sse';
  auth_header_name: string;
  timeout_ms: number;
}

/** The result of `POST …/{id}/check`: the initialize handshake, timed. */
export interface CheckResult {
  reachable: boolean;
  latency_ms: number;
  protocol_version: string | null;
  server_name: string | null;
  server_version: string | null;
  error: string | null;
}

export interface CatalogTool {
  name: string;
  description: string | null;
  input_schema: Record<string, unknown>;
}

/**
 * fetch through the egress rules of the server's owner (a tenant's server reaches public addresses only), with the
 * sealed auth header added to every request and never anything else of ours.
 */
function egressFetch(egress: Egress, header: { name: string; value: string } | null): FetchLike {
  return (url, init) => {
    const headers = new Headers(init?.headers);
    if (header) headers.set(header.name, header.value);
    const call = { ...init, headers, dispatcher: egress.dispatcher } as Parameters<typeof undiciFetch>[1];
    return undiciFetch(url, call) as unknown as Promise<Response>;
  };
}

/**
 * The SDK's client side, loaded on first use: it is a tenth of a second of a gateway's start-up, for the admin API's
 * `check` and `tools/refresh` alone.
 */
async function sdk() {
  const [{ Client }, { SSEClientTransport }, { StreamableHTTPClientTransport }] = await Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/sse.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
  ]);
  return { Client, SSEClientTransport, StreamableHTTPClientTransport };
}

/** An SDK client connected (initialize handshake done) to the server, over its transport. */
async function connected(server: UpstreamServer, authHeader: string | null, egress: Egress) {
  const { Client, SSEClientTransport, StreamableHTTPClientTransport } = await sdk();
  const fetch = egressFetch(egress, authHeader ? { name: server.auth_header_name, value: authHeader } : null);
  const url = new URL(server.url);
  const transport =
    server.transport === 'sse'
      ? new SSEClientTransport(url, { fetch })
      : new StreamableHTTPClientTransport(url, { fetch });
  const client = new Client({ name: 'portico-gateway', version: '0.1.0' });
  await client.connect(transport, { timeout: server.timeout_ms });
  const version = (transport as { protocolVersion?: string }).protocolVersion ?? null;
  return { client, transport, version };
}

/** Opens a session (initialize), times it, and closes it; a failure is reported in neutral words, never thrown. */
export async function checkServer(server: UpstreamServer, authHeader: string | null, egress: Egress) {
  const started = performance.now();
  const ms = () => Math.round((performance.now() - started) * 10) / 10;
  try {
    const { client, version } = await connected(server, authHeader, egress);
    const latency_ms = ms();
    const info = client.getServerVersion();
    await client.close();
    const result: CheckResult = {
      reachable: true,
      latency_ms,
      protocol_version: version,
      server_name: info?.name ?? null,
      server_version: info?.version ?? null,
      error: null,
    };
    return result;
  } catch (err) {
    return { ...UNREACHABLE, latency_ms: ms(), error: failureText(err, egress) };
  }
}

const UNREACHABLE: CheckResult = {
  reachable: false,
  latency_ms: 0,
  protocol_version: null,
  server_name: null,
  server_version: null,
  error: null,
};

/** Whether the failure came before any answer: no connection (refused by egress, unreachable, timed out). */
function noAnswer(err: unknown): boolean {
  for (let e = err as { cause?: unknown; message?: string; name?: string } | undefined; e; e = e.cause as never) {
    if (e instanceof TypeError && e.message === 'fetch failed') return true;
    if (e.name === 'TimeoutError' || e.name === 'AbortError' || isEgressDenied(e)) return true;
    if ((e as { code?: number }).code === -32001) return true; // the SDK's request timeout
  }
  return false;
}

/**
 * Why a call failed, as a tenant may read it: no answer in neutral words (no address, see `neutralFailure`); an
 * answer that is not MCP said as such, with the SDK's words only for the platform's own servers.
 */
function failureText(err: unknown, egress: Egress): string {
  if (noAnswer(err)) {
    let root = err as { cause?: unknown };
    while (root.cause && !isEgressDenied(root)) root = root.cause as never;
    return neutralFailure(root);
  }
  const detail = egress.restricted ? '' : `: ${(err as Error).message ?? String(err)}`;
  return `the target answered, but not as an MCP server${detail}`.slice(0, 500);
}

/** Lists every tool (following `nextCursor`, at most 50 pages) over one session. Throws an ApiError-ready message. */
export async function listServerTools(
  server: UpstreamServer,
  authHeader: string | null,
  egress: Egress,
): Promise<{ ok: true; tools: CatalogTool[] } | { ok: false; error: string }> {
  try {
    const { client } = await connected(server, authHeader, egress);
    try {
      const tools: CatalogTool[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 50; page++) {
        const res = await client.listTools(cursor ? { cursor } : {}, { timeout: server.timeout_ms });
        for (const t of res.tools)
          tools.push({ name: t.name, description: t.description ?? null, input_schema: { ...t.inputSchema } });
        cursor = res.nextCursor;
        if (!cursor) break;
      }
      return { ok: true, tools };
    } finally {
      await client.close();
    }
  } catch (err) {
    return { ok: false, error: failureText(err, egress) };
  }
}

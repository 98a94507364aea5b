import pino from 'pino';
import { startServer, type RunningServer } from '../../server/app';
import { loadConfig } from '../../server/config';
import { LOOPBACK_EGRESS, OWNER_TOKEN } from './gateway';
import { pgliteThreadEnv } from './databases';
import { testPgliteImage } from './pglite-image';

export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

/** A gateway node listening on loopback ports, as `npm start` runs one (the node admin suites' subject). */
export interface LiveNode {
  server: RunningServer;
  /** Where `/admin/*` is served: the admin port, or the data port on a data node. */
  adminBase: string;
  dataUrl: string;
  /** A JSON request to `base + path`, with the owner token unless another (or null) is given. */
  call(method: string, url: string, body?: unknown, token?: string | null): Promise<Answer>;
  close(): Promise<void>;
}

export async function request(
  method: string,
  url: string,
  body?: unknown,
  token: string | null = OWNER_TOKEN,
): Promise<Answer> {
  const res = await fetch(url, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Starts a node with the test defaults (owner token, loopback egress, no admin rate limit) and `env` over them. */
export async function startLiveNode(env: Record<string, string>): Promise<LiveNode> {
  const config = loadConfig({
    PORTICO_DATA_DIR: 'memory://',
    PORTICO_ADMIN_TOKEN: OWNER_TOKEN,
    PORTICO_ADMIN_PORT: '0',
    PORTICO_DATA_PORT: '0',
    PORTICO_EGRESS_ALLOW: LOOPBACK_EGRESS,
    PORTICO_ADMIN_RATE_LIMIT: '0',
    ...pgliteThreadEnv(),
    ...env,
  });
  const server = await startServer(config, pino({ level: 'silent' }), {
    webhooks: false,
    pgliteImage: testPgliteImage(),
  });
  const adminBase = (server.adminUrl ?? server.dataUrl)!;
  return {
    server,
    adminBase,
    dataUrl: server.dataUrl ?? '',
    call: (method, path, body, token) => request(method, adminBase + path, body, token),
    close: () => server.close(),
  };
}

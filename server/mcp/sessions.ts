import type { Gateway } from '../gateway';

/** A session the proxy saw opened (an `mcp-session-id` from upstream), idle for longer than this, is not counted. */
const IDLE_MS = 30 * 60_000;

/**
 * MCP proxy sessions per server, counted in this process: opened when the upstream names a new `mcp-session-id`
 * (or an SSE stream opens), ended by a DELETE, a closed SSE stream, or idleness.
 */
export class McpSessions {
  private readonly servers = new Map<string, { open: Map<string, number>; total: number }>();

  private entry(owner: string | null, serverId: string) {
    const key = `${owner ?? ''}/${serverId}`;
    let e = this.servers.get(key);
    if (!e) this.servers.set(key, (e = { open: new Map(), total: 0 }));
    return e;
  }

  /** A request within `session`: a new session counts once. */
  seen(owner: string | null, serverId: string, session: string, now = Date.now()): void {
    const e = this.entry(owner, serverId);
    if (!e.open.has(session)) e.total++;
    e.open.set(session, now);
  }

  ended(owner: string | null, serverId: string, session: string): void {
    this.entry(owner, serverId).open.delete(session);
  }

  countsFor(owner: string | null, serverId: string, now = Date.now()) {
    const e = this.entry(owner, serverId);
    for (const [id, at] of e.open) if (now - at > IDLE_MS) e.open.delete(id);
    return { active_sessions: e.open.size, total_sessions: e.total };
  }

  /** Every server's sessions held in memory: active, or idle past the limit and not yet dropped (`/admin/sessions/stats`). */
  summary(now = Date.now()) {
    let active = 0;
    let tracked = 0;
    for (const e of this.servers.values()) {
      tracked += e.open.size;
      for (const at of e.open.values()) if (now - at <= IDLE_MS) active++;
    }
    return { active_sessions: active, zombie_count: tracked - active, tracked_sessions: tracked };
  }
}

const byGateway = new WeakMap<Gateway, McpSessions>();

/** The gateway's session counts, shared by its data plane (which counts) and admin API (which reports). */
export function sessionsOf(gw: Gateway): McpSessions {
  let s = byGateway.get(gw);
  if (!s) byGateway.set(gw, (s = new McpSessions()));
  return s;
}

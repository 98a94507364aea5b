import type { FastifyReply } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';

// Which headers cross a proxy: end-to-end ones do, hop-by-hop ones (RFC 9110 section 7.6.1) never do.

const NONE: ReadonlySet<string> = new Set();

/** Headers of one hop only (RFC 9110 section 7.6.1), never forwarded in either direction. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The header names a `Connection` value lists, which are hop-by-hop too (beyond `keep-alive` and `close`). */
export function connectionNamed(connection: string | undefined): string[] | undefined {
  if (connection === undefined) return undefined;
  const v = connection.toLowerCase();
  return v !== 'keep-alive' && v !== 'close' ? v.split(',').map((s) => s.trim()) : undefined;
}

/** Whether a header (its name in lower case) belongs to one hop only. */
export const isHopByHop = (name: string, named: string[] | undefined) =>
  HOP_BY_HOP.has(name) || (named !== undefined && named.includes(name));

/** Headers minus hop-by-hop ones (and those the `connection` header names) and any in `drop`. */
export function endToEnd(
  headers: IncomingHttpHeaders,
  drop: ReadonlySet<string> = NONE,
): Record<string, string | string[]> {
  const named = connectionNamed(typeof headers.connection === 'string' ? headers.connection : undefined);
  const out: Record<string, string | string[]> = {};
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined || isHopByHop(k, named) || drop.has(k)) continue;
    out[k] = v;
  }
  return out;
}

/** The reply's own headers (request id, rate-limit headers), then the upstream's end-to-end ones, as raw pairs. */
export function responseHeaders(reply: FastifyReply, raw: Buffer[], drop: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const own = reply.getHeaders();
  for (const k in own) {
    const v = own[k];
    if (Array.isArray(v)) for (const x of v) out.push(k, x);
    else if (v !== undefined) out.push(k, String(v));
  }
  let named: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toString('latin1').toLowerCase() === 'connection')
      named = connectionNamed(raw[i + 1]!.toString('latin1'));
  }
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const k = name.toLowerCase();
    if (isHopByHop(k, named) || drop.has(k) || own[k] !== undefined) continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  return out;
}

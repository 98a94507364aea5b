import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import { ApiError } from '../errors';
import type { BreakerSettings } from './circuit-breaker';
import type { DataPlane, Traffic } from './data-plane';

/** Pooled keep-alive connections to every upstream, shared by the LLM and HTTP proxies. */
const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connections: 512, headersTimeout: 0, bodyTimeout: 0 });

/** Headers of one hop only (RFC 9110 section 7.6.1), never forwarded in either direction. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Headers minus hop-by-hop ones (and those the `connection` header names) and any in `drop`. */
export function endToEnd(headers: IncomingHttpHeaders, drop: ReadonlySet<string> = NONE): Record<string, string | string[]> {
  const connection = headers.connection;
  const named = typeof connection === 'string' && connection !== 'keep-alive' && connection !== 'close' ? connection.toLowerCase().split(',').map((s) => s.trim()) : undefined;
  const out: Record<string, string | string[]> = {};
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined || HOP_BY_HOP.has(k) || drop.has(k) || named?.includes(k)) continue;
    out[k] = v;
  }
  return out;
}

const NONE: ReadonlySet<string> = new Set();

/**
 * Raised when the client goes away, so an upstream call in flight stops. An EventEmitter rather than an
 * AbortController: undici takes either, and the emitter costs far less per request.
 */
export class ClientGone extends EventEmitter {
  left = false;

  leave(): void {
    this.left = true;
    this.emit('abort');
  }
}

export interface UpstreamCall {
  /** The breaker's key and the name in errors: a provider's base URL or a service's target. */
  upstream: string;
  /** What to call it in messages: `provider "openai"`, `service "billing"`. */
  label: string;
  url: string;
  method: Dispatcher.HttpMethod;
  headers: Record<string, string | string[]>;
  body?: Dispatcher.DispatchOptions['body'];
  /** Until the response headers, and between body chunks unless `streaming`. */
  timeoutMs: number;
  /** A stream may pause as long as it likes once it has started. */
  streaming?: boolean;
  breaker: BreakerSettings;
}

const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** An upstream failure as our error: a timeout (504) or anything else (502). */
export function upstreamError(call: Pick<UpstreamCall, 'label' | 'timeoutMs'>, err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as Error & { code?: string; cause?: Error };
  if (e.code && TIMEOUTS.has(e.code)) return new ApiError('UPSTREAM_TIMEOUT', `${capital(call.label)} did not answer within ${call.timeoutMs} ms`);
  return new ApiError('UPSTREAM_ERROR', `${capital(call.label)} could not be reached: ${e.cause?.message ?? e.message}`);
}

/**
 * One upstream call through its circuit breaker, bounded by undici's header and body timeouts. A connection error
 * or timeout throws (`UPSTREAM_ERROR`, `UPSTREAM_TIMEOUT`); an open circuit throws `CIRCUIT_OPEN` without calling.
 * A 5xx is returned, counted as a failure; anything else closes the circuit. `gone` aborts the call, and its body
 * later, when the client goes away.
 */
export async function callUpstream(dp: DataPlane, traffic: Traffic | undefined, call: UpstreamCall, gone: ClientGone): Promise<Dispatcher.ResponseData> {
  const permit = dp.breakers.acquire(call.upstream, call.breaker);
  if (!permit.ok) {
    const retry = String(Math.max(1, Math.ceil(permit.retryAfterMs / 1000)));
    throw new ApiError('CIRCUIT_OPEN', `The circuit for ${call.label} is open after repeated failures; retry in ${retry} s`).withHeaders({ 'retry-after': retry });
  }
  let res: Dispatcher.ResponseData;
  try {
    const { origin, path } = splitUrl(call.url);
    res = await agent.request({ origin, path, method: call.method, headers: call.headers, body: call.body, signal: gone, headersTimeout: call.timeoutMs, bodyTimeout: call.streaming ? 0 : call.timeoutMs });
  } catch (err) {
    if (gone.left) {
      dp.breakers.release(call.upstream);
      throw new ApiError('UPSTREAM_ERROR', 'The client went away');
    }
    const error = upstreamError(call, err);
    dp.breakers.failure(call.upstream, call.breaker);
    dp.metrics.upstreamErrors.inc([call.upstream, error.code === 'UPSTREAM_TIMEOUT' ? 'timeout' : 'connect']);
    if (traffic) traffic.upstream = call.upstream;
    throw error;
  }
  if (res.statusCode >= 500) {
    dp.breakers.failure(call.upstream, call.breaker);
    dp.metrics.upstreamErrors.inc([call.upstream, `status_${res.statusCode}`]);
    if (traffic) traffic.upstream = call.upstream;
  } else {
    dp.breakers.success(call.upstream);
  }
  return res;
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

const ORIGIN = /^(https?:\/\/[^/?#]+)(.*)$/i;

/** `http://host:port/a/b?q` as origin and path, without building a URL object per request. */
function splitUrl(url: string): { origin: string; path: string } {
  const m = ORIGIN.exec(url);
  if (!m) throw new ApiError('UPSTREAM_ERROR', `Not an http(s) URL: ${url}`);
  return { origin: m[1]!, path: m[2] || '/' };
}

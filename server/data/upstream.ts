import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request, type Dispatcher } from 'undici';
import { ApiError } from '../errors';
import type { BreakerSettings } from './circuit-breaker';
import type { DataPlane, Traffic } from './data-plane';

/** Pooled keep-alive connections to every upstream, shared by the LLM and HTTP proxies. */
const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connections: 512, headersTimeout: 0, bodyTimeout: 0 });

/** Headers of one hop only (RFC 9110 section 7.6.1), never forwarded in either direction. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Headers minus hop-by-hop ones (and those the `connection` header names) and any in `drop`. */
export function endToEnd(headers: IncomingHttpHeaders, drop: ReadonlySet<string> = new Set()): Record<string, string | string[]> {
  const named = typeof headers.connection === 'string' ? headers.connection.toLowerCase().split(',').map((s) => s.trim()) : [];
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || drop.has(k) || named.includes(k)) continue;
    out[k] = v;
  }
  return out;
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
  timeoutMs: number;
  breaker: BreakerSettings;
}

/** An upstream response; `done()` stops the timeout once the caller has what it waits for. */
export interface UpstreamResponse {
  res: Dispatcher.ResponseData;
  abort: AbortController;
  done: () => void;
}

/**
 * One upstream call through its circuit breaker, bounded by a timeout. A connection error or timeout throws
 * (`UPSTREAM_ERROR`, `UPSTREAM_TIMEOUT`); an open circuit throws `CIRCUIT_OPEN` without calling. A 5xx is returned,
 * counted as a failure; anything else closes the circuit. `gone` aborts the call when the client goes away.
 */
export async function callUpstream(dp: DataPlane, traffic: Traffic | undefined, call: UpstreamCall, gone: AbortSignal): Promise<UpstreamResponse> {
  const permit = dp.breakers.acquire(call.upstream, call.breaker);
  if (!permit.ok) {
    const retry = String(Math.max(1, Math.ceil(permit.retryAfterMs / 1000)));
    throw new ApiError('CIRCUIT_OPEN', `The circuit for ${call.label} is open after repeated failures; retry in ${retry} s`).withHeaders({ 'retry-after': retry });
  }
  const abort = new AbortController();
  const onGone = () => abort.abort(new Error('client went away'));
  gone.addEventListener('abort', onGone, { once: true });
  const timer = setTimeout(() => abort.abort(new ApiError('UPSTREAM_TIMEOUT', `${capital(call.label)} did not answer within ${call.timeoutMs} ms`)), call.timeoutMs);
  const done = () => {
    clearTimeout(timer);
    gone.removeEventListener('abort', onGone);
  };
  const fail = (reason: string, error: ApiError): ApiError => {
    dp.breakers.failure(call.upstream, call.breaker);
    dp.metrics.upstreamErrors.inc([call.upstream, reason]);
    if (traffic) traffic.upstream = call.upstream;
    return error;
  };
  let res: Dispatcher.ResponseData;
  try {
    res = await request(call.url, { method: call.method, headers: call.headers, body: call.body, signal: abort.signal, dispatcher: agent });
  } catch (err) {
    done();
    if (gone.aborted) {
      dp.breakers.release(call.upstream);
      throw new ApiError('UPSTREAM_ERROR', 'The client went away');
    }
    const reason = abort.signal.reason;
    if (reason instanceof ApiError) throw fail('timeout', reason);
    const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    throw fail('connect', new ApiError('UPSTREAM_ERROR', `${capital(call.label)} could not be reached: ${cause}`));
  }
  if (res.statusCode >= 500) fail(`status_${res.statusCode}`, new ApiError('UPSTREAM_ERROR'));
  else dp.breakers.success(call.upstream);
  return { res, abort, done };
}

/** The reason an aborted body read stopped: our timeout, or the error itself. */
export const abortReason = (abort: AbortController, err: unknown): unknown => (abort.signal.reason instanceof ApiError ? abort.signal.reason : err);

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

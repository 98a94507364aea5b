import type { FastifyReply } from 'fastify';
import type { Dispatcher } from 'undici';
import { ApiError } from '../errors';
import { isEgressDenied, neutralFailure, type Egress } from '../net/egress';
import type { BreakerSettings } from './circuit-breaker';
import type { DataPlane, Stoppable, Traffic } from './data-plane';
import { responseHeaders } from './hop-headers';

export interface UpstreamCall {
  /** The upstream's URL (metrics, the operator's log): a provider's base URL or a service's target. */
  upstream: string;
  /** The circuit breaker's key: the route's, and the provider's on an LLM route (see `circuitKey`). */
  circuit: string;
  /** Pooled keep-alive connections: open, or egress-checked for a target a tenant set. */
  egress: Egress;
  /** What to call it in messages: `provider "openai"`, `service "billing"`. */
  label: string;
  /** `http://host:port` */
  origin: string;
  /** The path and query, from `/`. */
  path: string;
  method: Dispatcher.HttpMethod;
  /** An object, or name/value pairs in one flat list (duplicates kept). */
  headers: Record<string, string | string[]> | string[];
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
  if (isEgressDenied(err)) return new ApiError('EGRESS_DENIED', `${capital(call.label)} is not at a public address`);
  const e = err as Error & { code?: string; cause?: Error };
  if (e.code && TIMEOUTS.has(e.code))
    return new ApiError('UPSTREAM_TIMEOUT', `${capital(call.label)} did not answer within ${call.timeoutMs} ms`);
  // callers are tenants or anonymous: the text names no address or port (it would map the network behind the
  // gateway); the operator's log line has the cause
  return new ApiError('UPSTREAM_ERROR', `${capital(call.label)} could not be reached: ${neutralFailure(err)}`);
}

/**
 * undici refusing the request as the client gave it (a header it will not send, a body shorter than its length), or
 * our abort when the client left.
 */
const REQUEST_SIDE = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_ABORTED',
]);

/**
 * Whether a call failed on the client's side rather than the upstream's: the client left, its body broke off (or
 * was cut by the request timeout), or undici refused the request. That says nothing about the upstream, so it counts
 * against neither the breaker nor the upstream-error metric (else anyone could open a breaker anonymously).
 */
function clientSide(call: UpstreamCall, left: boolean, err: unknown): boolean {
  if (left) return true;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && REQUEST_SIDE.has(code)) return true;
  return (call.body as { readableAborted?: boolean } | null | undefined)?.readableAborted === true;
}

/** A route's circuit: its owner and id, and on an LLM route the provider's place and name. */
export const circuitKey = (
  route: { id: string; tenant_id: string | null },
  provider?: { index: number; name: string },
) => `${route.tenant_id ?? '*'}/${route.id}${provider ? `#${provider.index}:${provider.name}` : ''}`;

/**
 * The upstream as error events name it, which the caller's tenant reads: the URL a tenant set itself, or the label
 * of a platform target (`service "billing"`), whose URL may be an internal address.
 */
const shownUpstream = (call: UpstreamCall) => (call.egress.restricted ? call.upstream : call.label);

/** The breaker's leave to call, or `CIRCUIT_OPEN` (with `retry-after`) without calling. */
function enter(dp: DataPlane, call: UpstreamCall): void {
  const permit = dp.breakers.acquire(call.circuit, call.breaker);
  if (permit.ok) return;
  const retry = String(Math.max(1, Math.ceil(permit.retryAfterMs / 1000)));
  throw new ApiError(
    'CIRCUIT_OPEN',
    `The circuit for ${call.label} is open after repeated failures; retry in ${retry} s`,
  ).withHeaders({ 'retry-after': retry });
}

/**
 * A call that got no (complete) answer: a breaker failure and the error to answer with, unless the failure was the
 * client's (then the breaker only frees a half-open trial slot).
 */
export function unanswered(
  dp: DataPlane,
  traffic: Traffic | undefined,
  call: UpstreamCall,
  left: boolean,
  err: unknown,
): ApiError {
  if (clientSide(call, left, err)) {
    dp.breakers.release(call.circuit);
    if (left) return new ApiError('UPSTREAM_ERROR', 'The client went away');
    const message = `The request cannot be forwarded: ${(err as Error).message}`;
    return new ApiError('VALIDATION_FAILED', message, [{ path: '', message }]);
  }
  const error = upstreamError(call, err);
  // a refused target is the route's configuration, not the upstream failing: the circuit is left as it is
  if (error.code === 'EGRESS_DENIED') {
    dp.breakers.release(call.circuit);
    return error;
  }
  if (error.code !== 'UPSTREAM_TIMEOUT') {
    dp.gw.log.warn({ err, upstream: call.upstream, circuit: call.circuit }, 'upstream unreachable');
  }
  failed(dp, traffic, call, error.code === 'UPSTREAM_TIMEOUT' ? 'timeout' : 'connect');
  return error;
}

/**
 * The upstream's own failure (no connection, a timeout, a 5xx, an unusable answer): a breaker failure, the metric by
 * reason, and the upstream noted for the error event.
 */
function failed(dp: DataPlane, traffic: Traffic | undefined, call: UpstreamCall, reason: string): void {
  dp.breakers.failure(call.circuit, call.breaker);
  dp.metrics.upstreamErrors.inc([call.upstream, reason]);
  if (traffic) traffic.upstream = shownUpstream(call);
}

/** An answer: a 5xx is a breaker failure (and noted for the error event), anything else closes the circuit. */
export function answered(dp: DataPlane, traffic: Traffic | undefined, call: UpstreamCall, status: number): void {
  if (status >= 500) failed(dp, traffic, call, `status_${status}`);
  else dp.breakers.success(call.circuit);
}

/** A 2xx whose body is unusable (not JSON where JSON was due): an upstream failure, with a neutral 502. */
export function unusableAnswer(
  dp: DataPlane,
  traffic: Traffic | undefined,
  call: UpstreamCall,
  status: number,
): ApiError {
  failed(dp, traffic, call, 'invalid_body');
  return new ApiError('UPSTREAM_ERROR', `${capital(call.label)} answered ${status} with a body that is not valid JSON`);
}

/**
 * undici's handler for one upstream call, stopped when the client goes away. A class, so a call allocates one object
 * and no closures; subclasses relay or collect the answer (`Relay` below, the LLM proxy's `LlmExchange`).
 */
export abstract class UpstreamHandler implements Dispatcher.DispatchHandler, Stoppable {
  private abort?: (err: Error) => void;

  constructor(
    protected readonly dp: DataPlane,
    protected readonly traffic: Traffic,
    protected readonly call: UpstreamCall,
  ) {}

  stop(): void {
    this.abort?.(new Error('The client went away'));
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    if (this.traffic.left) this.stop();
  }

  abstract onHeaders(status: number, raw: Buffer[], resume: () => void): boolean;
  abstract onData(chunk: Buffer): boolean;
  abstract onComplete(): void;
  abstract onError(err: Error): void;
}

/**
 * One upstream call through its circuit breaker (an open circuit throws `CIRCUIT_OPEN` without calling), bounded by
 * undici's header timeout and, unless `streaming`, its body timeout; `handler` takes the answer as it comes, with no
 * stream in between, and is stopped when the client goes away.
 */
export function dispatchUpstream(dp: DataPlane, traffic: Traffic, call: UpstreamCall, handler: UpstreamHandler): void {
  enter(dp, call);
  traffic.whileHere(handler);
  call.egress.dispatcher.dispatch(
    {
      origin: call.origin,
      path: call.path,
      method: call.method,
      headers: call.headers,
      body: call.body ?? null,
      headersTimeout: call.timeoutMs,
      bodyTimeout: call.streaming ? 0 : call.timeoutMs,
    },
    handler,
  );
}

/**
 * An upstream call whose answer is relayed to the client as it comes: status, end-to-end headers (less `drop`) after
 * the reply's own, and the body chunk by chunk with backpressure, written straight to the response with no stream in
 * between. Once the answer has begun the reply is hijacked. When no answer comes (`CIRCUIT_OPEN`, `UPSTREAM_ERROR`,
 * `UPSTREAM_TIMEOUT`) nothing has been sent, and the error goes to `reply.send` for the error handler to render. A
 * body that breaks off midway cuts the client's response short too. The client leaving aborts the call.
 */
export function relayUpstream(
  dp: DataPlane,
  traffic: Traffic,
  call: UpstreamCall,
  reply: FastifyReply,
  drop: ReadonlySet<string>,
): void {
  dispatchUpstream(dp, traffic, call, new Relay(dp, traffic, call, reply, drop));
}

/** The handler of a relayed call (`relayUpstream`). */
class Relay extends UpstreamHandler {
  private resume?: () => void;
  private started = false;

  constructor(
    dp: DataPlane,
    traffic: Traffic,
    call: UpstreamCall,
    private readonly reply: FastifyReply,
    private readonly drop: ReadonlySet<string>,
  ) {
    super(dp, traffic, call);
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (status < 200) return true; // informational: the final answer follows
    this.started = true;
    this.resume = resume;
    answered(this.dp, this.traffic, this.call, status);
    this.reply.hijack();
    this.reply.raw.writeHead(status, responseHeaders(this.reply, raw, this.drop));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.reply.raw.write(chunk)) return true;
    this.reply.raw.once('drain', this.resume!);
    return false;
  }

  onComplete(): void {
    this.reply.raw.end();
  }

  onError(err: Error): void {
    if (this.started) this.reply.raw.destroy(upstreamError(this.call, err));
    else this.reply.send(unanswered(this.dp, this.traffic, this.call, this.traffic.left, err));
  }
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

const ORIGIN = /^(https?:\/\/[^/?#]+)(.*)$/i;

/** `http://host:port/a/b?q` as origin and path, without building a URL object per request. */
export function splitUrl(url: string): { origin: string; path: string } {
  const m = ORIGIN.exec(url);
  if (!m) throw new ApiError('UPSTREAM_ERROR', `Not an http(s) URL: ${url}`);
  return { origin: m[1]!, path: m[2] || '/' };
}

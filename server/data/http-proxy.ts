import type { FastifyReply, FastifyRequest } from 'fastify';
import { buffer } from 'node:stream/consumers';
import type { Dispatcher } from 'undici';
import { ApiError } from '../errors';
import { routePlugin } from '../http/route-plugin';
import { egressOf, type Egress, type EgressAllow } from '../net/egress';
import type { RouteState } from '../resources';
import type { ConfigSnapshot } from '../store/snapshot';
import { breakerSettings, type BreakerSettings } from './circuit-breaker';
import { TRAFFIC, type DataPlane } from './data-plane';
import { API_KEY_PREFIX, bearerOf, missingKey, presentedKey } from './key-auth';
import { normalizePath } from './request-path';
import { matchHttpRoute, type HttpRoute } from './route-match-http';
import { answerPreflight, applyPolicies } from './policy-hook';
import { connectionNamed, isHopByHop } from './hop-headers';
import { circuitKey, relayUpstream, splitUrl, type UpstreamCall } from './upstream';

const SMALL_BODY = 64 * 1024;

/**
 * Request headers the proxy sets itself, and `expect`: the client's `100-continue` is answered here (node does it
 * when the body is first read), and undici refuses to send the header on.
 */
const NOT_FORWARDED = new Set([
  ...['host', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-request-id', 'content-length'],
  'expect',
]);
const RESPONSE_OWN = new Set(['date', 'server']);

/** Where a route's requests go: its service or `backend_url`, split once per configuration rather than per request. */
interface Backend {
  upstream: string;
  /** The route's circuit: a breaker per route, never shared with another owner's route to the same URL. */
  circuit: string;
  /** Restricted to public addresses when a tenant set the target (see `egressFor`). */
  egress: Egress;
  label: string;
  origin: string;
  /** The base URL's own path, without a trailing slash: `''` or `/v2`. */
  basePath: string;
  timeoutMs: number;
  breaker: BreakerSettings;
}

/** Backends by route entry (not id: two tenants' routes may share an id), until the next configuration change. */
const backends = (snapshot: ConfigSnapshot) => snapshot.memo('http-backends', () => new Map<RouteState, Backend>());

function backendOf(snapshot: ConfigSnapshot, route: RouteState, allow: EgressAllow): Backend {
  return backends(snapshot).get(route) ?? resolveBackend(snapshot, route, allow);
}

/** The route's service is looked up in the route's tenant (then global): never another tenant's of the same id. */
function resolveBackend(snapshot: ConfigSnapshot, route: RouteState, allow: EgressAllow): Backend {
  const service = route.service_id !== null ? snapshot.get('service', route.service_id, route.tenant_id) : undefined;
  // a soft-deleted service (tenant portal) fails its routes until they are given another one
  if (route.service_id && (!service || service.deleted_at !== null))
    throw new ApiError(
      'UPSTREAM_UNAVAILABLE',
      `Route "${route.id}" points at service "${route.service_id}", which no longer exists`,
    );
  const base = service ? service.target_url : route.backend_url;
  if (base === null) throw new ApiError('UPSTREAM_UNAVAILABLE', `Route "${route.id}" has no backend`);
  const { origin, path } = splitUrl(base);
  const backend: Backend = {
    upstream: base,
    circuit: circuitKey(route),
    // the resource holding the URL decides: a tenant's route or service is restricted, a global one is not
    egress: egressOf(allow, service ?? route),
    label: service ? `service "${service.id}"` : `backend of route "${route.id}"`,
    origin,
    basePath: path.replace(/\/+$/, ''),
    timeoutMs: Math.min(route.timeout_ms, service ? service.timeout_ms : Infinity),
    breaker: breakerSettings(route),
  };
  backends(snapshot).set(route, backend);
  return backend;
}

/** The backend path: the base's path + (the normalized path, less the prefix when `strip_prefix`) + the query. */
export function backendPath(basePath: string, route: HttpRoute, path: string, query: string): string {
  let rest = route.strip_prefix ? path.slice(route.path_prefix.replace(/\/$/, '').length) : path;
  if (rest && !rest.startsWith('/')) rest = `/${rest}`;
  return (basePath + rest || '/') + query;
}

/**
 * The HTTP API proxy: any path that no other data-plane endpoint serves is matched against HTTP routes and sent to
 * the route's service or `backend_url`, after key auth (when `auth_required`), rate limits and quotas, and the
 * backend's circuit breaker. Bodies stream through unparsed, both ways.
 */
export const httpProxy = routePlugin<{ dp: DataPlane }>('portico-http-proxy', [], async (proxy, { dp }) => {
  const { gw } = dp;
  // bodies are not parsed here: the raw request streams to the backend
  proxy.removeAllContentTypeParsers();
  proxy.addContentTypeParser('*', (_req, _payload, done) => done(null));

  proxy.all('/*', (req, reply) => {
    // routes see, and backends receive, the normalized path (no dot segments); the query goes on as it came
    const url = req.url;
    const q = url.indexOf('?');
    const path = normalizePath(q < 0 ? url : url.slice(0, q));
    // only a Portico key is ours to check; any other credential is the backend's business
    const caller = presentedKey(req)?.startsWith(API_KEY_PREFIX) ? dp.authenticate(req) : null;
    const route = matchHttpRoute(gw.snapshot, req.method, path, caller?.tenant.id ?? null);
    if (!route) throw new ApiError('ROUTE_NOT_FOUND', `No route serves ${req.method} ${path}`);
    if (route.auth_required && !caller && answerPreflight(dp, req, reply, route)) return;
    if (route.auth_required && !caller) throw missingKey();
    const tenant =
      caller?.tenant ?? (route.tenant_id ? (gw.snapshot.get('tenant', route.tenant_id, null) ?? null) : null);
    if (tenant && tenant.status !== 'ACTIVE')
      throw new ApiError('TENANT_SUSPENDED', `Tenant "${tenant.id}" is suspended`);
    const traffic = req[TRAFFIC]!;
    if (tenant) traffic.tenantId = tenant.id;
    if (applyPolicies(dp, req, reply, tenant, caller?.key ?? null, route)) return;
    const admitting = dp.admit(req, reply, tenant, caller?.key ?? null, route, false);
    const query = q < 0 ? '' : url.slice(q);
    // (not returned: fastify would take a promise that resolves before the answer for an empty reply)
    if (admitting) admitting.then(() => relay(req, reply, route, path, query)).catch((err: Error) => reply.send(err));
    else return relay(req, reply, route, path, query);
  });

  /** Calls the route's backend with the admitted request and relays its answer. */
  function relay(req: FastifyRequest, reply: FastifyReply, route: HttpRoute, path: string, query: string) {
    const traffic = req[TRAFFIC]!;
    const b = backendOf(gw.snapshot, route, gw.config.egressAllow);
    const call: UpstreamCall = {
      upstream: b.upstream,
      circuit: b.circuit,
      egress: b.egress,
      label: b.label,
      origin: b.origin,
      path: backendPath(b.basePath, route, path, query),
      method: req.method as Dispatcher.HttpMethod,
      headers: forwardHeaders(req),
      timeoutMs: b.timeoutMs,
      breaker: b.breaker,
    };
    const length = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    if (length === undefined ? req.headers['transfer-encoding'] === undefined : length === 0)
      return relayUpstream(dp, traffic, call, reply, RESPONSE_OWN);
    // a small body of known length is read whole first (undici sends a buffer much faster than a stream); others stream
    if (length === undefined || length > SMALL_BODY)
      return relayUpstream(dp, traffic, { ...call, body: req.raw }, reply, RESPONSE_OWN);
    buffer(req.raw)
      .then((body) => relayUpstream(dp, traffic, { ...call, body }, reply, RESPONSE_OWN))
      .catch((err: Error) => reply.send(err));
  }
});

/**
 * The request's end-to-end headers as name/value pairs, in their order and case (repeated ones kept), plus
 * `x-forwarded-*` and the request id; never the caller's Portico key.
 */
function forwardHeaders(req: FastifyRequest): string[] {
  const raw = req.raw.rawHeaders;
  const named = connectionNamed(req.headers.connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    const v = raw[i + 1]!;
    if (isHopByHop(k, named) || NOT_FORWARDED.has(k)) continue;
    if (
      k === 'authorization'
        ? bearerOf(v)?.startsWith(API_KEY_PREFIX)
        : k === 'x-api-key' && v.startsWith(API_KEY_PREFIX)
    )
      continue;
    out.push(raw[i]!, v);
  }
  const prior = req.headers['x-forwarded-for'];
  out.push('x-forwarded-for', prior ? `${prior}, ${req.ip}` : req.ip);
  out.push('x-forwarded-proto', (req.headers['x-forwarded-proto'] as string | undefined) ?? req.protocol);
  out.push('x-forwarded-host', (req.headers['x-forwarded-host'] as string | undefined) ?? req.headers.host ?? '');
  out.push('x-request-id', req.id);
  if (req.headers['content-length'] !== undefined) out.push('content-length', req.headers['content-length']);
  return out;
}

import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Gateway } from '../gateway';
import { healthRoutes } from '../health';
import { zodRouteSchemas } from '../http/route-schemas';
import { metricsRoute } from '../metrics-route';
import { LazyChildLogger } from '../lib/lazy-logger';
import {
  clientError,
  frameworkErrors,
  installErrorHandlers,
  type ErrorBody,
  type ErrorRenderer,
} from '../http/error-handler';
import { requestIdOf } from '../http/input-guard';
import { receiveTimeouts } from '../http/receive-timeouts';
import { DataPlane, TRAFFIC, Traffic } from './data-plane';
import { HealthChecker } from './health-checker';
import { httpProxy } from './http-proxy';
import { llmProxy } from './llm-proxy';
import { metricSources } from './metrics';
import { dataPortHttps, type MtlsGate, mtlsGauge, openMtlsGate } from './mtls';
import { mcpProxy } from '../mcp/proxy';

const TYPES: Record<number, string> = { 401: 'authentication_error', 403: 'permission_error', 429: 'rate_limit_error' };

/** OpenAI's error shape, which the data plane's callers (OpenAI clients) understand. */
export const openAiErrorBody: ErrorBody = (error) => ({
  error: {
    message: error.message,
    type: TYPES[error.status] ?? (error.status >= 500 ? 'api_error' : 'invalid_request_error'),
    code: error.code.toLowerCase(),
    param: error.details[0]?.path || null,
  },
});

export const renderOpenAiError: ErrorRenderer = (reply, error) => {
  const traffic = reply.request[TRAFFIC];
  if (traffic) traffic.error = error;
  return reply.status(error.status).send(openAiErrorBody(error));
};

const REQUEST = Symbol('portico.request');

type TrackedResponse = ServerResponse & { [REQUEST]?: FastifyRequest };

/**
 * Errors node meets before a request reaches the app, or instead of its end: a request not received within the
 * headers or request timeout (408), headers too large (431), anything unparseable (400). Answered in OpenAI's shape
 * while nothing of a response has gone out on the connection; the connection is closed either way. A request cut
 * this way while it was being handled is logged as 408 (and its upstream call, if any, aborted like a client's that
 * left: the breaker does not count it).
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const error = clientError(err);
  // the response in progress on this connection (node's own clientError handling looks at it the same way)
  const res = (socket as Socket & { _httpMessage?: TrackedResponse | null })._httpMessage;
  const request = res?.[REQUEST];
  const traffic = request?.[TRAFFIC];
  if (traffic) traffic.error = error;
  if (socket.writable && !res?.headersSent) {
    const body = JSON.stringify(openAiErrorBody(error));
    const id = request ? `x-request-id: ${request.id}\r\n` : '';
    const head = `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\nconnection: close\r\n${id}`;
    const type = 'content-type: application/json; charset=utf-8';
    socket.write(`${head}${type}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

/**
 * Paths that are not traffic: probes, and the metrics scrape and node admin API (where this port serves them) leave
 * no request log.
 */
const PROBES_AND_METRICS = /^\/(health\/|metrics(\?|$)|admin(\/|\?|$))/;
const PROBES = /^\/health\//;
/**
 * Route patterns of the node's own endpoints: probes and `/admin/*` (which has its bearer token) are not traffic and
 * skip the client-certificate check. Matched on the route that serves the request, not its URL, so a proxied route
 * under `/admin/` is still traffic and still checked.
 */
const OWN_ENDPOINTS = /^\/(health|admin)\//;

/**
 * The data plane: the LLM proxy, the HTTP API proxy, `/metrics` and health probes. Configuration comes from the
 * in-memory snapshot only; usage, request logs and error events are written in batches.
 */
export async function buildDataApp(gw: Gateway): Promise<FastifyInstance> {
  // a client's x-request-id lands in request logs and error events: only a sane token is kept (requestIdOf)
  const app = Fastify({
    ...dataPortHttps(gw.config.dataTls),
    ...receiveTimeouts(gw.config),
    clientErrorHandler: answerClientError,
    bodyLimit: 10 * 1024 * 1024,
    forceCloseConnections: true,
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: requestIdOf,
    frameworkErrors: frameworkErrors(renderOpenAiError),
    loggerInstance: gw.log,
    childLoggerFactory: (logger, bindings, options) =>
      new LazyChildLogger(logger, bindings, options) as unknown as typeof logger,
  }) as unknown as FastifyInstance;
  installErrorHandlers(app, renderOpenAiError);
  const dp = new DataPlane(gw);
  const health = new HealthChecker(gw);
  dp.writers.push(health.snapshots);
  app.decorate('dataPlane', dp);
  const mtls = openMtlsGate(gw);
  app.decorate('mtls', mtls);
  dp.metrics.addGauge(mtlsGauge(mtls));
  app.addHook('onReady', async () => {
    await dp.start();
    health.start();
    metricSources(gw).add(dp.metrics);
  });
  app.addHook('onClose', async () => {
    metricSources(gw).delete(dp.metrics);
    await Promise.all([dp.stop(), health.stop(dp.stopBy)]);
  });
  // 'close' comes for every ending: answered, failed, streamed (hijacked), cut by a timeout (408) or abandoned by
  // the client (499)
  function closed(this: TrackedResponse) {
    const req = this[REQUEST]!;
    const finished = this.writableFinished;
    const traffic = req[TRAFFIC]!;
    // a request the timeout cut keeps that error: stopping its upstream call renders one of its own
    const timedOut = !finished && traffic.error?.code === 'REQUEST_TIMEOUT' ? traffic.error : undefined;
    if (!finished) traffic.leave();
    if (timedOut) traffic.error = timedOut;
    dp.finished(req, finished ? this.statusCode : timedOut ? 408 : 499);
  }
  // metrics name tenants and upstreams: they are on the admin port, or on this one only where there is no admin port
  const servesMetrics = gw.config.role === 'data';
  const notTraffic = servesMetrics ? PROBES_AND_METRICS : PROBES;
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    const url = req.url;
    const own = OWN_ENDPOINTS.test(req.routeOptions.url ?? '');
    if (!own && !notTraffic.test(url)) {
      req[TRAFFIC] = new Traffic(url.startsWith('/v1/chat/') || url.startsWith('/v1/models') ? 'llm' : 'http');
      const res = reply.raw as TrackedResponse;
      res[REQUEST] = req;
      res.on('close', closed); // a response closes once
    }
    if (!own) {
      try {
        mtls.check(req);
      } catch (err) {
        return done(err as Error);
      }
    }
    done();
  });
  // each surface a plugin, after the hooks above (which they inherit); the proxies' routes carry no schemas, so
  // nothing is validated on their requests
  app.register(zodRouteSchemas);
  app.register(healthRoutes, { gw });
  if (servesMetrics) app.register(metricsRoute, { gw });
  app.register(llmProxy, { dp });
  app.register(mcpProxy, { dp });
  await app.register(httpProxy, { dp });
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    dataPlane: DataPlane;
    /** The client-certificate check and its counts (`/admin/mtls/*`). */
    mtls: MtlsGate;
  }
}

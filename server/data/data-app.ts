import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Gateway } from '../gateway';
import { registerHealthRoutes } from '../health';
import { LazyChildLogger } from '../lib/lazy-logger';
import { installErrorHandlers, type ErrorRenderer } from '../control/error-handler';
import { DataPlane, TRAFFIC, Traffic } from './data-plane';
import { HealthChecker } from './health-checker';
import { registerHttpProxy } from './http-proxy';
import { registerLlmProxy } from './llm-proxy';

const TYPES: Record<number, string> = { 401: 'authentication_error', 403: 'permission_error', 429: 'rate_limit_error' };

/** OpenAI's error shape, which the data plane's callers (OpenAI clients) understand. */
export const renderOpenAiError: ErrorRenderer = (reply, error) => {
  const traffic = reply.request[TRAFFIC];
  if (traffic) traffic.error = error;
  return reply.status(error.status).send({
    error: {
      message: error.message,
      type: TYPES[error.status] ?? (error.status >= 500 ? 'api_error' : 'invalid_request_error'),
      code: error.code.toLowerCase(),
      param: error.details[0]?.path || null,
    },
  });
};

/** Paths that are not traffic: probes and the metrics scrape leave no request log. */
const REQUEST = Symbol('portico.request');

const NOT_TRAFFIC = /^\/(health\/|metrics(\?|$))/;

/**
 * The data plane: the LLM proxy, the HTTP API proxy, `/metrics` and health probes. Configuration comes from the
 * in-memory snapshot only; usage, request logs and error events are written in batches.
 */
export async function buildDataApp(gw: Gateway): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: 10 * 1024 * 1024, forceCloseConnections: true, logController: new LogController({ disableRequestLogging: true }), requestIdHeader: 'x-request-id', genReqId: () => `req_${crypto.randomUUID()}`, loggerInstance: gw.log, childLoggerFactory: (logger, bindings, options) => new LazyChildLogger(logger, bindings, options) as unknown as typeof logger }) as unknown as FastifyInstance;
  installErrorHandlers(app, renderOpenAiError);
  const dp = new DataPlane(gw);
  const health = new HealthChecker(gw);
  dp.writers.push(health.snapshots);
  app.decorate('dataPlane', dp);
  app.addHook('onReady', async () => {
    await dp.start();
    health.start();
  });
  app.addHook('onClose', async () => {
    await Promise.all([dp.stop(), health.stop(dp.stopBy)]);
  });
  // 'close' comes for every ending: answered, failed, streamed (hijacked) or abandoned by the client (499)
  function closed(this: ServerResponse & { [REQUEST]?: FastifyRequest }) {
    const req = this[REQUEST]!;
    const finished = this.writableFinished;
    if (!finished) req[TRAFFIC]!.leave();
    dp.finished(req, finished ? this.statusCode : 499);
  }
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    const url = req.url;
    if (!NOT_TRAFFIC.test(url)) {
      req[TRAFFIC] = new Traffic(url.startsWith('/v1/chat/') || url.startsWith('/v1/models') ? 'llm' : 'http');
      const res = reply.raw as ServerResponse & { [REQUEST]?: FastifyRequest };
      res[REQUEST] = req;
      res.on('close', closed); // a response closes once
    }
    done();
  });
  registerHealthRoutes(app, gw);
  app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(dp.metrics.render()));
  registerLlmProxy(app, dp);
  await registerHttpProxy(app, dp);
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    dataPlane: DataPlane;
  }
}

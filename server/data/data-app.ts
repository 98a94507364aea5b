import Fastify, { type FastifyInstance } from 'fastify';
import type { Gateway } from '../gateway';
import { registerHealthRoutes } from '../health';
import { installErrorHandlers, type ErrorRenderer } from '../control/error-handler';

/** OpenAI's error shape, which the data plane's callers (OpenAI clients) understand. */
export const renderOpenAiError: ErrorRenderer = (reply, error) =>
  reply.status(error.status).send({ error: { message: error.message, type: error.status >= 500 ? 'server_error' : 'invalid_request_error', code: error.code.toLowerCase() } });

/** The data plane. The proxies arrive with the data-plane issue; today it serves its health probes. */
export function buildDataApp(gw: Gateway): FastifyInstance {
  const app = Fastify({ bodyLimit: 10 * 1024 * 1024, requestIdHeader: 'x-request-id', genReqId: () => `req_${crypto.randomUUID()}`, loggerInstance: gw.log }) as unknown as FastifyInstance;
  installErrorHandlers(app, renderOpenAiError);
  registerHealthRoutes(app, gw);
  return app;
}

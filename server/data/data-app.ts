import Fastify, { type FastifyInstance } from 'fastify';
import type { Gateway } from '../gateway';
import { registerHealthRoutes } from '../health';
import { installErrorHandlers, type ErrorRenderer } from '../control/error-handler';
import { BudgetTracker } from './budget-tracker';
import { registerLlmProxy } from './llm-proxy';
import { UsageWriter } from './usage-writer';

const TYPES: Record<number, string> = { 401: 'authentication_error', 403: 'permission_error', 429: 'rate_limit_error' };

/** OpenAI's error shape, which the data plane's callers (OpenAI clients) understand. */
export const renderOpenAiError: ErrorRenderer = (reply, error) =>
  reply.status(error.status).send({
    error: {
      message: error.message,
      type: TYPES[error.status] ?? (error.status >= 500 ? 'api_error' : 'invalid_request_error'),
      code: error.code.toLowerCase(),
      param: error.details[0]?.path || null,
    },
  });

/** The data plane: the LLM proxy, reading configuration from the in-memory snapshot only. */
export function buildDataApp(gw: Gateway): FastifyInstance {
  const app = Fastify({ bodyLimit: 10 * 1024 * 1024, forceCloseConnections: true, requestIdHeader: 'x-request-id', genReqId: () => `req_${crypto.randomUUID()}`, loggerInstance: gw.log }) as unknown as FastifyInstance;
  installErrorHandlers(app, renderOpenAiError);
  const usage = new UsageWriter(gw.db, gw.log);
  const budgets = new BudgetTracker(gw.db, gw.snapshot);
  app.addHook('onReady', () => budgets.start());
  app.addHook('onClose', async () => {
    budgets.stop();
    await usage.flush();
  });
  app.decorate('usage', usage);
  registerHealthRoutes(app, gw);
  registerLlmProxy(app, gw, { usage, budgets });
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    usage: UsageWriter;
  }
}

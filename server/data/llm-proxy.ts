import type { FastifyInstance, FastifyReply } from 'fastify';
import { ApiError } from '../errors';
import type { Gateway } from '../gateway';
import type { BudgetTracker } from './budget-tracker';
import { authenticateKey, type KeyCaller } from './key-auth';
import { baseUrlOf, failsOver, providerOrder, resolveCredential, type RouteProvider } from './providers';
import { llmRoutes } from './route-match';
import { SseUsageScanner, type Usage } from './sse-usage';
import type { UsageWriter } from './usage-writer';
import type { SnapshotEntry } from '../store/snapshot';

export interface ProxyDeps {
  usage: UsageWriter;
  budgets: BudgetTracker;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'upgrade']);

function parseChat(body: unknown): { model: string; stream: boolean } {
  const b = body as Record<string, unknown> | undefined;
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw new ApiError('VALIDATION_FAILED', 'The body must be a JSON object', [{ path: '', message: 'must be an object' }]);
  if (typeof b.model !== 'string' || !b.model) throw new ApiError('VALIDATION_FAILED', 'model is required and must be a string', [{ path: 'model', message: 'is required' }]);
  if (!Array.isArray(b.messages) || b.messages.length === 0) throw new ApiError('VALIDATION_FAILED', 'messages must be a non-empty array', [{ path: 'messages', message: 'must be a non-empty array' }]);
  const bad = b.messages.findIndex((m) => !m || typeof m !== 'object' || typeof (m as { role?: unknown }).role !== 'string');
  if (bad >= 0) throw new ApiError('VALIDATION_FAILED', `messages[${bad}].role is required`, [{ path: `messages.${bad}.role`, message: 'is required' }]);
  if (b.stream !== undefined && typeof b.stream !== 'boolean') throw new ApiError('VALIDATION_FAILED', 'stream must be a boolean', [{ path: 'stream', message: 'must be a boolean' }]);
  return { model: b.model, stream: b.stream === true };
}

/** Token cost from the pricing table (0 when the model has no price). */
function costOf(gw: Gateway, provider: string, model: string, usage: Usage): number {
  const price = gw.snapshot.all('pricing').find((p) => p.provider === provider && p.model === model);
  if (!price) return 0;
  return (usage.prompt_tokens * Number(price.input_per_million_usd) + usage.completion_tokens * Number(price.output_per_million_usd)) / 1e6;
}

/** The OpenAI-compatible LLM proxy: POST /v1/chat/completions (with streaming) and GET /v1/models. */
export function registerLlmProxy(app: FastifyInstance, gw: Gateway, deps: ProxyDeps): void {
  const record = (caller: KeyCaller, route: SnapshotEntry, p: RouteProvider, model: string, usage: Usage) => {
    const cost = costOf(gw, p.provider, model, usage);
    deps.usage.add({ tenant_id: caller.tenant.id, api_key_id: caller.key.id, route_id: route.id, provider: p.provider, model, input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens, cost_usd: cost, created_at: new Date() });
    for (const { budget, crossed } of deps.budgets.record(caller.tenant.id, caller.key.id, cost)) {
      void gw.db
        .transaction()
        .execute((tx) => gw.audit.append(tx, crossed.map((pct) => ({ type: 'BUDGET_THRESHOLD_CROSSED', actor: { type: 'system', id: 'data-plane', name: 'portico data plane' }, tenant_id: caller.tenant.id, resource: { kind: 'budget', id: budget.id }, changes: { threshold_percent: pct, limit_usd: budget.limit_usd, enforcement: budget.enforcement } }))))
        .catch((err) => gw.log.error({ err }, 'budget alert not recorded'));
    }
  };

  app.post('/v1/chat/completions', async (req, reply) => {
    const caller = authenticateKey(gw.snapshot, req);
    const { model, stream } = parseChat(req.body);
    const route = llmRoutes(gw.snapshot, caller.tenant.id, model)[0];
    if (!route) throw new ApiError('NO_ROUTE', `No route serves the model "${model}"`);
    for (const b of deps.budgets.budgetsFor(caller.tenant.id, caller.key.id)) {
      if (b.enforcement === 'HARD' && deps.budgets.spentOn(b) >= Number(b.limit_usd)) {
        throw new ApiError('BUDGET_EXCEEDED', `Budget "${b.id}" (${b.limit_usd} USD per ${String(b.period).toLowerCase()} period) is exhausted`);
      }
    }
    const order = providerOrder(route);
    let lastError: ApiError | undefined;
    let current: AbortController | undefined;
    // the response's close before it finished: the client went away, so the upstream call stops too
    reply.raw.once('close', () => !reply.raw.writableFinished && current?.abort(new Error('client went away')));
    for (const [i, p] of order.entries()) {
      const canFailOver = failsOver(route) && i < order.length - 1;
      const upstreamModel = p.model ?? model;
      const body = { ...(req.body as object), model: upstreamModel, ...(stream ? { stream_options: { ...((req.body as { stream_options?: object }).stream_options ?? {}), include_usage: true } } : {}) };
      const abort = (current = new AbortController());
      const timeoutMs = p.timeout_ms ?? Number(route.timeout_ms);
      const timer = setTimeout(() => abort.abort(new ApiError('UPSTREAM_TIMEOUT', `Provider "${p.provider}" did not answer within ${timeoutMs} ms`)), timeoutMs);
      let res: Response;
      try {
        const key = resolveCredential(gw.snapshot, gw.keys.masterKey, caller.tenant.id, p);
        res = await fetch(`${baseUrlOf(p)}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-request-id': req.id }, body: JSON.stringify(body), signal: abort.signal });
      } catch (err) {
        clearTimeout(timer);
        lastError = err instanceof ApiError ? err : abort.signal.reason instanceof ApiError ? abort.signal.reason : new ApiError('UPSTREAM_ERROR', `Provider "${p.provider}" could not be reached: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`);
        if (canFailOver && lastError.code !== 'UPSTREAM_TIMEOUT') continue;
        throw lastError;
      }
      if (res.status >= 500 && canFailOver) {
        clearTimeout(timer);
        await res.arrayBuffer().catch(() => undefined);
        lastError = new ApiError('UPSTREAM_ERROR', `Provider "${p.provider}" answered ${res.status}`);
        continue;
      }
      if (!stream || !res.ok || !res.body) {
        try {
          const text = await res.text();
          clearTimeout(timer);
          if (res.ok) {
            const usage = JSON.parse(text).usage as Usage | undefined;
            if (usage) record(caller, route, p, upstreamModel, usage);
          }
          return reply.status(res.status).header('content-type', res.headers.get('content-type') ?? 'application/json').send(text);
        } catch (err) {
          throw abort.signal.reason instanceof ApiError ? abort.signal.reason : err;
        }
      }
      return pipeStream(reply, res, abort, timer, (usage) => record(caller, route, p, upstreamModel, usage));
    }
    throw new ApiError('UPSTREAM_UNAVAILABLE', `Every provider of route "${route.id}" failed: ${lastError?.message ?? 'no providers'}`);
  });

  app.get('/v1/models', async (req) => {
    const caller = authenticateKey(gw.snapshot, req);
    const ids = new Set<string>();
    for (const r of llmRoutes(gw.snapshot, caller.tenant.id)) {
      ids.add(r.model_pattern as string);
      for (const p of (r.providers as RouteProvider[]) ?? []) if (p.model) ids.add(p.model);
    }
    return { object: 'list', data: [...ids].map((id) => ({ id, object: 'model', created: 0, owned_by: 'portico' })) };
  });
}

/** Server-sent events passed through chunk by chunk, unbuffered; usage is read from the final chunk on the way. */
async function pipeStream(reply: FastifyReply, res: Response, abort: AbortController, timer: NodeJS.Timeout, onUsage: (u: Usage) => void): Promise<void> {
  reply.hijack();
  const headers: Record<string, string> = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' };
  res.headers.forEach((v, k) => !HOP_BY_HOP.has(k) && k !== 'content-type' && (headers[k] = v));
  reply.raw.writeHead(res.status, headers);
  const scanner = new SseUsageScanner();
  clearTimeout(timer); // the first byte arrived: from here the stream runs as long as the upstream sends
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      scanner.push(chunk);
      if (reply.raw.destroyed) break;
      if (!reply.raw.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            reply.raw.off('drain', done).off('close', done);
            resolve();
          };
          reply.raw.on('drain', done).on('close', done);
        });
      }
    }
  } catch {
    // the client went away (we aborted the upstream) or the upstream broke: end what we have
  } finally {
    const usage = scanner.usage();
    if (usage) onUsage(usage);
    reply.raw.end();
    if (!abort.signal.aborted) abort.abort();
  }
}

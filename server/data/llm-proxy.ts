import type { FastifyReply } from 'fastify';
import { ApiError } from '../errors';
import { isoAt } from '../lib/iso-date';
import { routePlugin } from '../http/route-plugin';
import { CHAT_INPUT, refuseUnsafeInput } from '../http/input-guard';
import { applyPromptTemplate } from '../prompts/apply-template';
import { breakerSettings } from './circuit-breaker';
import { TRAFFIC, type DataPlane } from './data-plane';
import type { KeyCaller } from './key-auth';
import { failsOver, providerOrder, providerTarget, resolveCredential, type RouteProvider } from './providers';
import { responseHeaders } from './hop-headers';
import { answerMessages, guardAnswerText } from '../policies/answer-guard';
import { GuardedSseRelay } from './guarded-stream';
import { LlmExchange, type SinkFactory } from './llm-exchange';
import { SseRelay } from './sse-relay';
import { answerGuardsOf, applyPolicies, type AnswerGuards } from './policy-hook';
import { llmRoutes, type LlmRoute } from './route-match';
import { registeredOutput, reportOutcome, reportStreamOutcome } from '../schemas/structured-output';
import { SseUsageScanner, type Usage } from './sse-usage';
import { answered, dispatchUpstream, unusableAnswer, type UpstreamCall } from './upstream';

/** A JSON object: not null, not an array. */
const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function parseChat(b: unknown): { body: Record<string, unknown>; model: string; stream: boolean } {
  if (!isRecord(b))
    throw new ApiError('VALIDATION_FAILED', 'The body must be a JSON object', [
      { path: '', message: 'must be an object' },
    ]);
  // the body is forwarded and `model` is recorded: nothing PostgreSQL refuses, no nesting JSON.stringify cannot take
  refuseUnsafeInput(b, CHAT_INPUT);
  if (typeof b.model !== 'string' || !b.model)
    throw new ApiError('VALIDATION_FAILED', 'model is required and must be a string', [
      { path: 'model', message: 'is required' },
    ]);
  if (!Array.isArray(b.messages) || b.messages.length === 0)
    throw new ApiError('VALIDATION_FAILED', 'messages must be a non-empty array', [
      { path: 'messages', message: 'must be a non-empty array' },
    ]);
  const bad = b.messages.findIndex((m) => !isRecord(m) || typeof m.role !== 'string');
  if (bad >= 0)
    throw new ApiError('VALIDATION_FAILED', `messages[${bad}].role is required`, [
      { path: `messages.${bad}.role`, message: 'is required' },
    ]);
  if (b.stream !== undefined && typeof b.stream !== 'boolean')
    throw new ApiError('VALIDATION_FAILED', 'stream must be a boolean', [
      { path: 'stream', message: 'must be a boolean' },
    ]);
  return { body: b, model: b.model, stream: b.stream === true };
}

/** Response headers the proxy sets itself rather than copying from the upstream. */
const OWN_HEADERS = new Set(['content-length', 'content-type', 'date', 'server']);

/** The OpenAI-compatible LLM proxy: POST /v1/chat/completions (with streaming) and GET /v1/models. */
export const llmProxy = routePlugin<{ dp: DataPlane }>('portico-llm-proxy', [], async (app, { dp }) => {
  const { gw } = dp;

  /** Tokens and cost from the pricing table, into token usage and the budgets (with their threshold events). */
  const record = (caller: KeyCaller, route: LlmRoute, p: RouteProvider, model: string, usage: Usage) => {
    const prices = gw.snapshot.memo(
      'pricing-by-model',
      () => new Map(gw.snapshot.all('pricing').map((x) => [`${x.provider}\u0000${x.model}`, x])),
    );
    const price = prices.get(`${p.provider}\u0000${model}`);
    const cost = price
      ? (usage.prompt_tokens * price.input_per_million_usd + usage.completion_tokens * price.output_per_million_usd) /
        1e6
      : 0;
    dp.usage.add({
      tenant_id: caller.tenant.id,
      api_key_id: caller.key.id,
      route_id: route.id,
      provider: p.provider,
      model,
      input_tokens: usage.prompt_tokens,
      output_tokens: usage.completion_tokens,
      cost_usd: cost,
      created_at: isoAt(Date.now()), // (formatted once per millisecond)
    });
    for (const { budget, crossed } of dp.budgets.record(caller.tenant.id, caller.key.id, cost)) {
      const events = crossed.map((pct) => ({
        type: 'BUDGET_THRESHOLD_CROSSED',
        actor: { type: 'system', id: 'data-plane', name: 'portico data plane' },
        tenant_id: caller.tenant.id,
        resource: { kind: 'budget', id: budget.id },
        changes: { threshold_percent: pct, limit_usd: budget.limit_usd, enforcement: budget.enforcement },
      }));
      void gw.db
        .transaction()
        .execute((tx) => gw.audit.append(tx, events))
        .catch((err) => gw.log.error({ err }, 'budget alert not recorded'));
    }
  };

  app.post('/v1/chat/completions', async (req, reply) => {
    const caller = dp.authenticate(req);
    const { body: asked, model, stream } = parseChat(applyPromptTemplate(gw.snapshot, caller.tenant.id, req.body));
    const output = registeredOutput(gw.snapshot, caller.tenant.id, asked); // a registered schema, inlined (400 if unknown)
    const chat = output?.chat ?? asked;
    const route = llmRoutes(gw.snapshot, caller.tenant.id, model)[0];
    if (!route) throw new ApiError('NO_ROUTE', `No route serves the model "${model}"`);
    applyPolicies(dp, req, reply, caller.tenant, caller.key, route, chat);
    const admitting = dp.admit(req, reply, caller.tenant, caller.key, route, true);
    if (admitting) await admitting; // a promise only while a shared counter is held: no extra turn otherwise
    const guards = answerGuardsOf(dp, req, caller.tenant, caller.key, route);

    const order = providerOrder(route);
    const traffic = req[TRAFFIC]!;
    // ACTIVE answer guardrails re-write a stream; SHADOW ones judge the content the scanner keeps at its end
    const acting = guards?.active.length ? guards : undefined;
    const scanner = stream ? new SseUsageScanner(!!output || (!!guards && !acting)) : undefined;
    let lastError: ApiError | undefined;
    let refused: ApiError | undefined;
    for (let i = 0; i < order.length; i++) {
      const p = order[i]!;
      const canFailOver = failsOver(route) && i < order.length - 1;
      const upstreamModel = p.model ?? model;
      let call: UpstreamCall | undefined;
      let exchange: LlmExchange | undefined;
      try {
        const key = resolveCredential(gw.snapshot, gw.keys.masterKey, caller.tenant.id, route, p);
        const target = providerTarget(gw.snapshot, gw.config.egressAllow, route, p);
        call = {
          upstream: target.upstream,
          circuit: target.circuit,
          egress: target.egress,
          label: target.label,
          origin: target.origin,
          path: target.path,
          method: 'POST',
          headers: ['content-type', 'application/json', 'authorization', `Bearer ${key}`, 'x-request-id', req.id],
          body: upstreamBody(chat, upstreamModel, stream),
          timeoutMs: p.timeout_ms ?? route.timeout_ms,
          streaming: stream,
          breaker: breakerSettings(route),
        };
        // a stream's sink, made at its head; what it saw is taken at its end (the end writes the request log)
        const toSink: SinkFactory | undefined =
          scanner &&
          ((status, headers) => {
            const onEnd = (usage: Usage | undefined) => {
              if (usage) record(caller, route, p, upstreamModel, usage);
              if (guards && !acting) guards.recordShadow([scanner.content() ?? '']);
              if (output) reportStreamOutcome(output, scanner.content(), traffic);
            };
            return acting
              ? new GuardedSseRelay(reply, status, headers, scanner, onEnd, acting)
              : new SseRelay(reply, status, headers, scanner, onEnd);
          });
        exchange = new LlmExchange(dp, traffic, call, toSink);
        dispatchUpstream(dp, traffic, call, exchange);
        await exchange.done;
      } catch (err) {
        lastError = err as ApiError;
        // a timeout is not retried elsewhere: the caller has already waited the route's whole timeout; nor is an
        // answer that broke off once begun, or a guardrail's refusal of a stream
        const retry = lastError instanceof ApiError && lastError.code !== 'UPSTREAM_TIMEOUT' && !exchange?.status;
        if (canFailOver && retry && !traffic.left) continue;
        throw err;
      }
      if (exchange.streamed) return; // the client has had it (see `onEnd` above)
      const status = exchange.status;
      if (status >= 500 && canFailOver) {
        lastError = new ApiError('UPSTREAM_ERROR', `Provider "${p.provider}" answered ${status}`);
        continue;
      }
      const bytes = exchange.body();
      let text: string | undefined;
      let answer: Record<string, unknown> | undefined;
      if (status < 300) {
        // a 2xx that is not a JSON object is the provider's fault (an HTML error page, a cut body): a 502 that
        // repeats nothing of it, never the client's 400
        answer = jsonObject((text = bytes.toString()));
        if (!answer) {
          lastError = unusableAnswer(dp, traffic, call, status);
          if (canFailOver) continue;
          throw lastError;
        }
        const usage = answer.usage as Usage | undefined;
        if (usage) record(caller, route, p, upstreamModel, usage);
        if (output) refused = reportOutcome(output, answer, reply, traffic, route);
      }
      if (!stream && status < 500) answered(dp, traffic, call, status); // (a 5xx was judged already)
      if (refused) throw refused;
      // the upstream's own answer goes on unless a guardrail re-wrote it: as the text read (node sends a string
      // with the head in one write), or the bytes of one not read
      const out = guards && answer ? guardedAnswer(guards, text!, answer) : text;
      return sendAnswer(reply, status, exchange.headers, out ?? bytes);
    }
    throw new ApiError(
      'UPSTREAM_UNAVAILABLE',
      `Every provider of route "${route.id}" failed: ${lastError?.message ?? 'no providers'}`,
    ).withHeaders(lastError?.headers ?? {});
  });

  app.get('/v1/models', async (req) => {
    const caller = dp.authenticate(req);
    const ids = new Set<string>();
    for (const r of llmRoutes(gw.snapshot, caller.tenant.id)) {
      ids.add(r.model_pattern);
      for (const p of r.providers) if (p.model) ids.add(p.model);
    }
    return { object: 'list', data: [...ids].map((id) => ({ id, object: 'model', created: 0, owned_by: 'portico' })) };
  });
});

/** A non-streamed answer through its guardrails: SHADOW ones record, then ACTIVE ones refuse or redact it. */
function guardedAnswer(guards: AnswerGuards, text: string, answer: Record<string, unknown>): string {
  if (guards.shadow.length) guards.recordShadow(answerMessages(answer).map((m) => m.content as string));
  return guards.active.length ? guardAnswerText(guards.active, text, answer) : text;
}

/** The body sent to a provider: the chat with the provider's model, and usage asked for at a stream's end. */
function upstreamBody(chat: Record<string, unknown>, model: string, stream: boolean): string {
  const streamOptions = stream
    ? { stream_options: { ...(isRecord(chat.stream_options) ? chat.stream_options : {}), include_usage: true } }
    : undefined;
  return JSON.stringify(chat.model === model && !streamOptions ? chat : { ...chat, model, ...streamOptions });
}

/** The value of a header among raw name/value pairs (the first of its name), or undefined. */
function rawHeader(raw: Buffer[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i]!.length === name.length && raw[i]!.toString('latin1').toLowerCase() === name)
      return raw[i + 1]!.toString('latin1');
  return undefined;
}

/**
 * A non-streamed answer written straight to the client: the reply's own headers (request id, rate limits), the
 * upstream's end-to-end ones, and its body with our own length.
 */
function sendAnswer(reply: FastifyReply, status: number, upstreamHeaders: Buffer[], body: Buffer | string): void {
  const headers = responseHeaders(reply, upstreamHeaders, OWN_HEADERS);
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  headers.push('content-type', rawHeader(upstreamHeaders, 'content-type') ?? 'application/json');
  headers.push('content-length', String(length));
  reply.hijack();
  reply.raw.writeHead(status, headers);
  reply.raw.end(body);
}

/** A JSON object's properties, or undefined for anything else (not JSON, an array, a string, null). */
function jsonObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isRecord(value) ? value : undefined;
}

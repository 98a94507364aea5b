import type { FastifyReply } from 'fastify';
import type { Readable } from 'node:stream';
import { ApiError } from '../errors';
import { StreamGuard } from '../policies/answer-guard';
import { openAiErrorBody } from './data-app';
import { TRAFFIC } from './data-plane';
import type { AnswerGuards } from './policy-hook';
import { drained, startEventStream } from './sse-relay';
import type { SseUsageScanner, Usage } from './sse-usage';

/**
 * A streamed LLM answer relayed through the answer guardrails that cover it (server/policies/answer-guard.ts): the
 * events are re-written with held-back, redacted content. A blocking guardrail ends the stream: with the same 403 as
 * a non-streamed answer while nothing was sent yet (the error is thrown), else with an OpenAI error event in the
 * stream (OpenAI's clients raise it). Usage is recorded either way, and SHADOW guardrails judge the whole answer.
 * Streams no answer guardrail covers never come here: they keep the zero-copy relay.
 */
export async function pipeGuardedStream(
  reply: FastifyReply,
  status: number,
  upstreamHeaders: Record<string, string | string[]>,
  body: Readable,
  scanner: SseUsageScanner,
  onUsage: (u: Usage) => void,
  guards: AnswerGuards,
): Promise<void> {
  const guard = new StreamGuard(guards.active, guards.shadow.length > 0);
  const raw = reply.raw;
  let head = false;
  const start = () => {
    if (head) return;
    head = true;
    startEventStream(reply, status, upstreamHeaders);
  };
  const send = async (text: string) => {
    if (!text || raw.destroyed) return;
    start();
    if (!raw.write(text)) await drained(raw);
  };
  let refused: ApiError | undefined;
  try {
    for await (const chunk of body) {
      scanner.push(chunk as Uint8Array);
      if (raw.destroyed) break;
      await send(guard.push(chunk as Uint8Array));
    }
    await send(guard.finish());
  } catch (err) {
    // a blocking guardrail; anything else is the client gone or the upstream broken: end what we have
    if (err instanceof ApiError) refused = err;
  } finally {
    const usage = scanner.usage();
    if (usage) onUsage(usage);
    if (guards.shadow.length) guards.recordShadow(guard.texts());
    body.destroy();
  }
  if (refused && !head) throw refused; // nothing was sent: answered like a non-streamed answer
  start();
  if (refused) {
    const traffic = reply.request[TRAFFIC];
    if (traffic) traffic.error = refused; // the request log names the refusal
    if (!raw.destroyed) raw.write(`data: ${JSON.stringify(openAiErrorBody(refused))}\n\n`);
  }
  raw.end();
}

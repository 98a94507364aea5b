import type { FastifyReply } from 'fastify';
import { ApiError } from '../errors';
import { StreamGuard } from '../policies/answer-guard';
import { openAiErrorBody } from './data-app';
import { TRAFFIC } from './data-plane';
import type { AnswerGuards } from './policy-hook';
import { startEventStream, writeOrWait, type StreamSink } from './sse-relay';
import type { SseUsageScanner, Usage } from './sse-usage';

/**
 * A streamed LLM answer relayed through the answer guardrails that cover it (server/policies/answer-guard.ts): the
 * events are re-written with held-back, redacted content. A blocking guardrail ends the stream: with the same 403 as
 * a non-streamed answer while nothing was sent yet (the refusal is thrown), else with an OpenAI error event in the
 * stream (OpenAI's clients raise it). Usage is recorded either way, and SHADOW guardrails judge the whole answer.
 * Streams no answer guardrail covers never come here: they keep the zero-copy relay (`SseRelay`).
 */
export class GuardedSseRelay implements StreamSink {
  private readonly guard: StreamGuard;
  private head = false;

  constructor(
    private readonly reply: FastifyReply,
    private readonly status: number,
    private readonly upstreamHeaders: Buffer[],
    private readonly scanner: SseUsageScanner,
    private readonly onEnd: (u: Usage | undefined) => void,
    private readonly guards: AnswerGuards,
  ) {
    this.guard = new StreamGuard(guards.active, guards.shadow.length > 0);
  }

  push(chunk: Buffer, resume: () => void): boolean {
    this.scanner.push(chunk);
    return this.send(this.guard.push(chunk), resume);
  }

  finish(broken: boolean): void {
    let refusal: ApiError | undefined;
    try {
      // a stream that broke off is ended with what was let through, as it stood
      if (!broken) this.send(this.guard.finish(), noop);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      refusal = err;
    }
    this.end(refusal);
  }

  refuse(refusal: ApiError): void {
    this.end(refusal);
  }

  private send(text: string, resume: () => void): boolean {
    if (!text) return true;
    this.start();
    return writeOrWait(this.reply.raw, text, resume);
  }

  private start(): void {
    if (this.head) return;
    this.head = true;
    startEventStream(this.reply, this.status, this.upstreamHeaders);
  }

  private end(refusal: ApiError | undefined): void {
    if (this.guards.shadow.length) this.guards.recordShadow(this.guard.texts());
    this.onEnd(this.scanner.usage()); // before the end: the request log is written once the response closes
    if (refusal && !this.head) throw refusal; // nothing was sent: answered like a non-streamed answer
    this.start();
    const raw = this.reply.raw;
    if (refusal) {
      const traffic = this.reply.request[TRAFFIC];
      if (traffic) traffic.error = refusal; // the request log names the refusal
      if (!raw.destroyed) raw.write(`data: ${JSON.stringify(openAiErrorBody(refusal))}\n\n`);
    }
    raw.end();
  }
}

const noop = () => {};

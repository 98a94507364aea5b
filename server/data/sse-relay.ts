import type { FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { ApiError } from '../errors';
import { responseHeaders } from './hop-headers';
import type { SseUsageScanner, Usage } from './sse-usage';

/** Where a streamed LLM answer goes as the upstream sends it (see `LlmExchange`). */
export interface StreamSink {
  /** One upstream chunk; false when the client cannot take more yet (`resume` is called once it can). */
  push(chunk: Buffer, resume: () => void): boolean;
  /** The upstream ended, or broke off (`broken`): ends the client's stream. Throws a refusal nothing was sent of. */
  finish(broken: boolean): void;
  /** A refusal that `push` threw, once the upstream is stopped: as `finish`. */
  refuse?(refusal: ApiError): void;
}

/** Response headers the event stream sets itself rather than copying from the upstream. */
const STREAM_OWN = new Set(['content-length', 'content-type', 'cache-control', 'x-accel-buffering', 'date', 'server']);

/**
 * Takes the answer over from Fastify and sends the head of an event stream: the reply's own headers, the upstream's
 * end-to-end ones, then the stream's.
 */
export function startEventStream(reply: FastifyReply, status: number, upstreamHeaders: Buffer[]): void {
  reply.hijack();
  const headers = responseHeaders(reply, upstreamHeaders, STREAM_OWN);
  headers.push('content-type', 'text/event-stream', 'cache-control', 'no-cache', 'x-accel-buffering', 'no');
  reply.raw.writeHead(status, headers);
}

/** Writes to the client; false when it is full, and `resume` is called once it drained. */
export function writeOrWait(raw: ServerResponse, data: Buffer | string, resume: () => void): boolean {
  if (raw.destroyed || raw.write(data)) return true; // (a client gone stops the upstream call: see `Traffic.leave`)
  raw.once('drain', resume);
  return false;
}

/**
 * Server-sent events passed through chunk by chunk, unbuffered; usage is read from the final chunk on the way, and
 * `onEnd` has it (or undefined) when the stream ends.
 */
export class SseRelay implements StreamSink {
  constructor(
    private readonly reply: FastifyReply,
    private readonly status: number,
    upstreamHeaders: Buffer[],
    private readonly scanner: SseUsageScanner,
    private readonly onEnd: (u: Usage | undefined) => void,
  ) {
    startEventStream(reply, status, upstreamHeaders);
  }

  push(chunk: Buffer, resume: () => void): boolean {
    this.scanner.push(chunk);
    return writeOrWait(this.reply.raw, chunk, resume);
  }

  finish(): void {
    this.onEnd(this.scanner.usage()); // before the end: the request log is written once the response closes
    this.reply.raw.end();
  }
}

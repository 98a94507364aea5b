import type { FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { SseUsageScanner, Usage } from './sse-usage';

/** Takes the answer over from Fastify and sends the head of an event stream: the upstream's headers, then ours. */
export function startEventStream(
  reply: FastifyReply,
  status: number,
  upstreamHeaders: Record<string, string | string[]>,
): void {
  reply.hijack();
  reply.raw.writeHead(status, {
    ...upstreamHeaders,
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    ...(reply.getHeaders() as Record<string, string>),
  });
}

/** Resolves once the client can take more (or has gone). */
export const drained = (raw: ServerResponse) =>
  new Promise<void>((resolve) => {
    const done = () => {
      raw.off('drain', done).off('close', done);
      resolve();
    };
    raw.on('drain', done).on('close', done);
  });

/** Server-sent events passed through chunk by chunk, unbuffered; usage is read from the final chunk on the way. */
export async function pipeStream(
  reply: FastifyReply,
  status: number,
  upstreamHeaders: Record<string, string | string[]>,
  body: Readable,
  scanner: SseUsageScanner,
  onUsage: (u: Usage) => void,
): Promise<void> {
  startEventStream(reply, status, upstreamHeaders);
  try {
    for await (const chunk of body) {
      scanner.push(chunk as Uint8Array);
      if (reply.raw.destroyed) break;
      if (!reply.raw.write(chunk)) await drained(reply.raw);
    }
  } catch {
    // the client went away (undici destroyed the upstream body) or the upstream broke: end what we have
  } finally {
    const usage = scanner.usage();
    if (usage) onUsage(usage);
    reply.raw.end();
    body.destroy();
  }
}

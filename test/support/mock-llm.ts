import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An OpenAI-compatible upstream on loopback that answers at once (or hangs / fails, as told), recording each call. */
export class MockLlm {
  readonly calls: { headers: IncomingHttpHeaders; body: any }[] = [];
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  /** When set, a non-streamed call is answered 200 with exactly this body (a provider answering garbage). */
  rawAnswer: string | undefined;
  /** Set when a streaming response's connection was closed by the other side before it ended. */
  streamAborted = false;
  private server: Server | undefined;
  private open = new Set<() => void>();

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const body = raw ? JSON.parse(raw) : {};
        this.calls.push({ headers: req.headers, body });
        if (this.mode === 'hang') return void this.open.add(() => res.destroy());
        if (this.mode === 'fail')
          return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"boom"}}');
        const usage = { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 };
        if (!body.stream && this.rawAnswer !== undefined)
          return void res.writeHead(200, { 'content-type': 'application/json' }).end(this.rawAnswer);
        if (!body.stream) {
          return void res.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              id: 'chatcmpl-1',
              object: 'chat.completion',
              created: 1,
              model: body.model,
              choices: [
                { index: 0, message: { role: 'assistant', content: 'Hello from mock' }, finish_reason: 'stop' },
              ],
              usage,
            }),
          );
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = (delta: object, extra: object = {}) =>
          `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: body.model, choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
        const parts = [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hel' }), chunk({ content: 'lo' })];
        const slow = body.messages?.[0]?.content === 'slow';
        let i = 0;
        res.on('close', () => !res.writableFinished && (this.streamAborted = true));
        const next = () => {
          if (res.destroyed) return; // the client left: stop streaming (and stop the timer chain)
          if (i < parts.length) {
            res.write(parts[i++]);
            return void setTimeout(next, slow ? 100 : 0);
          }
          if (slow) return void setTimeout(next, 100); // keeps streaming content until the client leaves
          res.write(
            `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: body.model, choices: [], usage })}\n\n`,
          );
          res.end('data: [DONE]\n\n');
        };
        if (slow) parts.push(...Array.from({ length: 50 }, () => chunk({ content: 'more ' })));
        next();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.open.forEach((end) => end());
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

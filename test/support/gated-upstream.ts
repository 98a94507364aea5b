import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A promise the test opens itself: a step that waits for it cannot happen before the test has seen what it awaits. */
export function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * An upstream on loopback that answers every request with `first`, then holds the response open until the test opens
 * `release`, then sends `rest` and ends. A test that reads `first` through the gateway while `ended` is still false has
 * proved the gateway streams: a buffering gateway could pass nothing on before the end. So that a buffering gateway
 * fails the assertion instead of hanging the suite, the upstream also ends on its own after `failsafeMs`.
 */
export class GatedUpstream {
  readonly release = gate();
  /** Set once the response has been ended by the upstream. */
  ended = false;
  private server: Server | undefined;

  constructor(
    private readonly answer: { contentType: string; first: string; rest: string },
    private readonly failsafeMs = 5000,
  ) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      req.resume();
      req.on('end', async () => {
        res.writeHead(200, { 'content-type': this.answer.contentType });
        res.write(this.answer.first);
        const failsafe = setTimeout(this.release.open, this.failsafeMs);
        await this.release.opened;
        clearTimeout(failsafe);
        this.ended = true;
        res.end(this.answer.rest);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.release.open();
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

/** Reads a response body as text as it arrives: up to a given text, or to the end. */
export function textReader(body: ReadableStream<Uint8Array>): {
  readThrough(expected: string): Promise<string>;
  rest(): Promise<string>;
} {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const more = async () => {
    const { value, done } = await reader.read();
    if (!done) text += decoder.decode(value, { stream: true });
    return !done;
  };
  return {
    async readThrough(expected) {
      while (!text.includes(expected))
        if (!(await more()))
          throw new Error(`the body ended without ${JSON.stringify(expected)}: ${JSON.stringify(text)}`);
      return text;
    },
    async rest() {
      while (await more());
      return text + decoder.decode();
    },
  };
}

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on loopback: records every request; `respond` decides each status (or holds the request open). */
export class Receiver {
  readonly received: Received[] = [];
  respond: (n: number, req: Received) => number | 'hang' = () => 200;
  private server: Server | undefined;
  private hanging: (() => void)[] = [];

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const got = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        this.received.push(got);
        const status = this.respond(this.received.length, got);
        if (status === 'hang') this.hanging.push(() => res.destroy());
        else res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** Waits until `n` requests arrived. */
  async waitFor(n: number, ms = 10_000): Promise<Received[]> {
    const start = Date.now();
    while (this.received.length < n) {
      if (Date.now() - start > ms) throw new Error(`only ${this.received.length} of ${n} requests within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.received;
  }

  async stop(): Promise<void> {
    this.hanging.forEach((end) => end());
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

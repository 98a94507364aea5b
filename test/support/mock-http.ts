import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * An HTTP backend on loopback that echoes each request as JSON and records it. Paths ending in `/hang` never answer,
 * `/fail` answers 500, `/down` (a health check) 503; `failing = true` makes every request a 500.
 */
export class MockHttp {
  readonly seen: SeenRequest[] = [];
  failing = false;
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen = {
          method: req.method!,
          url: req.url!,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        this.seen.push(seen);
        if (req.url!.endsWith('/hang')) return;
        if (this.failing || req.url!.endsWith('/fail'))
          return void res.writeHead(500, { 'content-type': 'text/plain' }).end('backend broke');
        if (req.url!.endsWith('/down')) return void res.writeHead(503).end();
        res.writeHead(200, {
          'content-type': 'application/json',
          'x-backend': 'mock',
          connection: 'keep-alive, x-drop-me',
          'x-drop-me': 'hop',
        });
        res.end(JSON.stringify(seen));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy on loopback between the gateway and its PostgreSQL, to play an unlucky operator's outages:
 * `down()` refuses connections and cuts the open ones (a server that is gone), `freeze()` accepts and holds
 * connections but passes nothing either way (a hung server, like SIGSTOP), `up()` brings it back as it was.
 */
export class TcpProxy {
  private server: Server | undefined;
  private port = 0;
  private frozen = false;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly target: { host: string; port: number }) {}

  /** Listens (on the same port again after `down`); returns the port. */
  async up(): Promise<number> {
    this.frozen = false;
    for (const s of this.sockets) s.resume();
    if (this.server) return this.port;
    const server = createServer((client) => this.pair(client));
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  /** Refuses new connections and resets the open ones. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise((r) => server.close(r));
  }

  /** Holds every connection, open and new, without passing a byte. */
  freeze(): void {
    this.frozen = true;
    for (const s of this.sockets) s.pause();
  }

  /** `url` with its host and port replaced by the proxy's. */
  url(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  private pair(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(from);
      if (this.frozen) from.pause();
      from.on('data', (chunk) => to.write(chunk));
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.sockets.delete(from);
        to.destroy();
      });
    }
  }
}

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, Socket } from 'node:net';

/** Whether Debian's `redis-server` is on PATH; REQUIRE_REDIS=1 makes its absence a failure rather than a skip. */
export function redisAvailable(): boolean {
  const found = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
  if (found) return true;
  if (process.env.REQUIRE_REDIS === '1') throw new Error('REQUIRE_REDIS=1 but redis-server is not on PATH');
  process.stderr.write('notice: redis-server is not installed; the Redis suites are skipped\n');
  return false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A throwaway redis-server on loopback that keeps nothing on disk; it can be stopped and started on the same port. */
export class RedisServer {
  private proc: ChildProcess | undefined;
  port = 0;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    this.proc = spawn('redis-server', [...args, '--dir', '/tmp'], { stdio: 'ignore' });
    const end = Date.now() + 10_000;
    while (!(await this.answers())) {
      if (Date.now() > end) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops the server (its data goes with it), as an outage would. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL'); // works on a paused server too
    await exited;
    this.proc = undefined;
  }

  /** Freezes the server (SIGSTOP): connections stay open and nothing answers, as a Redis far too slow. */
  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  /** PING answered with PONG. */
  private answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = new Socket();
      const done = (ok: boolean) => (socket.destroy(), resolve(ok));
      socket.once('error', () => done(false));
      socket.connect(this.port, '127.0.0.1', () => socket.write('PING\r\n'));
      socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
    });
  }
}

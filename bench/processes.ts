import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Child processes of one benchmark run, every one stopped at the end, even on failure. Their output goes to files,
 * not pipes: a proxy that logs every request must not cost the load generator, which shares the machine, a read
 * per line.
 */
export class ProcessGroup {
  private readonly children: ChildProcess[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'portico-bench-logs-'));

  /**
   * Starts a command and resolves with the first match of `ready` in its output (stdout and stderr) and the process
   * id, or rejects when it exits or `timeoutMs` passes first.
   */
  start(
    command: string,
    args: string[],
    ready: RegExp,
    env: NodeJS.ProcessEnv = {},
    timeoutMs = 60_000,
  ): Promise<RegExpExecArray & { pid: number }> {
    const { child, file } = this.spawn(command, args, env);
    const output = () => readFileSync(file, 'utf8').slice(0, 100_000);
    return new Promise((resolve, reject) => {
      const end = Date.now() + timeoutMs;
      const poll = setInterval(() => {
        const match = ready.exec(output());
        if (match) finish(() => resolve(Object.assign(match, { pid: child.pid! })));
        else if (Date.now() > end)
          finish(() => reject(new Error(`${command} was not ready in ${timeoutMs} ms:\n${output().slice(-2000)}`)));
      }, 50);
      const onExit = (code: number | null) =>
        finish(() => reject(new Error(`${command} exited (${code}) before it was ready:\n${output().slice(-2000)}`)));
      const finish = (settle: () => void) => {
        clearInterval(poll);
        child.off('exit', onExit);
        settle();
      };
      child.once('exit', onExit);
    });
  }

  /** Starts a command without waiting for it; its output goes to `file`. */
  spawn(command: string, args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; file: string } {
    const file = join(this.dir, `${this.children.length}.log`);
    const fd = openSync(file, 'a');
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.children.push(child);
    return { child, file };
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
            setTimeout(() => c.kill('SIGKILL'), 3000).unref();
          }),
      ),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

import { spawn, type ChildProcess } from 'node:child_process';

/** Child processes of one benchmark run, every one stopped at the end, even on failure. */
export class ProcessGroup {
  private readonly children: ChildProcess[] = [];

  /**
   * Starts a command and resolves with the first match of `ready` in its output (stdout or stderr), or rejects when
   * it exits or `timeoutMs` passes first.
   */
  start(command: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<RegExpExecArray> {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(child);
    return new Promise((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`${command} was not ready in ${timeoutMs} ms:\n${seen.slice(-2000)}`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        if (seen.length < 100_000) seen += chunk.toString();
        const match = ready.exec(seen);
        if (match) {
          clearTimeout(timer);
          // from here the output is drained unread: a proxy logging every request must not cost the load generator
          child.stdout!.off('data', onData).resume();
          child.stderr!.off('data', onData).resume();
          seen = '';
          resolve(match);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${command} exited (${code}) before it was ready:\n${seen.slice(-2000)}`));
      });
    });
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
  }
}

import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, escapeIdentifier } from 'pg';

/** A throwaway PostgreSQL cluster for a benchmark run, or undefined where the server binaries are missing. */
export interface BenchPostgres {
  url: string;
  /** The postmaster's process id: the root of the cluster's process tree. */
  pid: number;
  /** Creates an empty database in the cluster and returns its URL: one per Portico, so each has its own tables. */
  database(name: string): Promise<string>;
  stop(): void;
}

function bindir(): string | undefined {
  try {
    const dir = execFileSync('pg_config', ['--bindir']).toString().trim();
    if (existsSync(join(dir, 'initdb'))) return dir;
  } catch {
    // no pg_config: look for the Debian layout below
  }
  const majors = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort() : [];
  return majors
    .map((m) => `/usr/lib/postgresql/${m}/bin`)
    .filter((d) => existsSync(join(d, 'initdb')))
    .pop();
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/**
 * Starts PostgreSQL in a temporary folder, as CI does (as the `postgres` user when run by root). Returns undefined
 * when it cannot, and the benchmark then uses the embedded PGlite. By default the cluster skips fsync and waits for no
 * WAL flush at commit (the data plane's benchmarks measure the gateway, not this disk); `durable` keeps PostgreSQL's
 * own defaults, as a production cluster runs, where every commit waits for its WAL on disk.
 */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<BenchPostgres | undefined> {
  const bin = bindir();
  if (!bin) return undefined;
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'portico-bench-pg-'));
  const as = (cmd: string, args: string[]) =>
    root
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { cwd: dir, stdio: 'ignore' })
      : execFileSync(join(bin, cmd), args, { cwd: dir, stdio: 'ignore' });
  try {
    if (root)
      chownSync(
        dir,
        Number(execFileSync('id', ['-u', 'postgres']).toString()),
        Number(execFileSync('id', ['-g', 'postgres']).toString()),
      );
    const port = await freePort();
    as('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
    as('pg_ctl', [
      '-D',
      join(dir, 'data'),
      '-l',
      join(dir, 'pg.log'),
      '-w',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1` +
        (options.durable ? '' : ' -c fsync=off -c synchronous_commit=off'),
      'start',
    ]);
    const stop = () => {
      try {
        as('pg_ctl', ['-D', join(dir, 'data'), '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const pid = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const database = async (name: string) => {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    };
    return { url, pid, database, stop };
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

import { mkdir, readdir, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SEGMENT, segmentName } from './spool';

/**
 * A node's spools live under `<data dir>/spool`: one process keeps its segments there, and data-plane worker N of
 * PORTICO_WORKERS in `worker-N/`. A node restarted as one process after running workers, as workers after one
 * process, or with fewer workers, would leave segments in a directory no process opens any more, and their rows would
 * never reach the database. So the process that opens the first data-plane spool (the single process, or worker 1)
 * first takes over the others' segments: the single process every `worker-N/`; worker 1 the top level and every
 * `worker-N/` with N above today's count. They are renamed into its directory after its own (same file system, so
 * each move is whole), and drain with them.
 */
export async function adoptOrphanedSegments(dir: string, workers: number): Promise<number> {
  const worker = /^worker-(\d+)$/.exec(basename(dir));
  const root = worker ? dirname(dir) : dir;
  const index = worker ? Number(worker[1]) : 0;
  if (index > 1) return 0; // worker 1 adopts for all of them
  const workerDirs = (await entries(root)).filter((name) => /^worker-\d+$/.test(name));
  const sources =
    index === 0
      ? workerDirs.map((name) => join(root, name))
      : [root, ...workerDirs.filter((name) => Number(name.slice(7)) > workers).map((name) => join(root, name))];
  const orphans: string[] = [];
  for (const source of sources)
    for (const name of (await entries(source)).sort()) if (SEGMENT.test(name)) orphans.push(join(source, name));
  if (!orphans.length) return 0;
  await mkdir(dir, { recursive: true });
  let seq = Math.max(0, ...(await entries(dir)).map((name) => Number(SEGMENT.exec(name)?.[2] ?? 0)));
  for (const path of orphans) {
    const table = SEGMENT.exec(basename(path))![1]!;
    await rename(path, join(dir, segmentName(table, ++seq)));
  }
  return orphans.length;
}

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

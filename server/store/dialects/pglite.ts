import { existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kysely } from 'kysely';
import { copyInto, copySlices } from '../copy-text';
import type { ListenHandlers, Unlisten } from '../listener';
import type { Database } from '../schema';
import { DEFAULT_PGLITE_THREAD, type Append, type OpenDatabase, type PGliteThreadMode } from './dialect';
import { openPGliteWorker } from './pglite-worker-database';

export interface PGliteOptions {
  /** A data directory (created if missing), or `memory://` to keep nothing. */
  dataDir: string;
  /**
   * A data directory dumped by PGlite's `dumpDataDir` (a tarball, or the path of its file) that a new database starts
   * from instead of running initdb, which costs a start seconds of CPU (server/store/pglite-image.ts).
   * Ignored where a database exists already (a data directory on disk keeps its own) and when the file is absent
   * (initdb runs as usual).
   */
  image?: Blob | string;
  /** Where PGlite runs: a worker thread of its own, or the caller's thread. */
  thread?: PGliteThreadMode;
}

/** Embedded PGlite: one connection serves queries, the snapshot feed, NOTIFY and COPY, in a worker or in process. */
export async function openPGlite({
  dataDir,
  image,
  thread = DEFAULT_PGLITE_THREAD,
}: PGliteOptions): Promise<OpenDatabase> {
  const inMemory = dataDir === 'memory://';
  if (!inMemory) mkdirSync(dataDir, { recursive: true });
  // PGlite loads an image only where no database is yet (it refuses to overwrite one)
  const fresh = inMemory || !existsSync(join(dataDir, 'PG_VERSION'));
  if (thread === 'worker') return openPGliteWorker(dataDir, fresh ? image : undefined);
  return openInProcess(dataDir, fresh ? await readImage(image) : undefined);
}

/** PGlite in the caller's thread, through kysely-pglite-dialect. */
async function openInProcess(dataDir: string, loadDataDir: Blob | undefined): Promise<OpenDatabase> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGliteDialect } = await import('kysely-pglite-dialect');
  const inMemory = dataDir === 'memory://';
  const client = await PGlite.create({ ...(inMemory ? {} : { dataDir }), loadDataDir });
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  const listen = async (channel: string, handlers: ListenHandlers): Promise<Unlisten> => {
    const stop = await client.listen(channel, handlers.onMessage);
    return async () => {
      if (!client.closed) await stop();
    };
  };
  // PGlite reads COPY … FROM '/dev/blob' from the blob given with the query
  const append: Append = async (table, columns, rows) => {
    const text = copyInto(table, columns).replace(/STDIN$/, "'/dev/blob'");
    const parts: string[] = [];
    for await (const slice of copySlices(columns, rows)) parts.push(slice);
    await client.query(text, [], { blob: new Blob(parts) });
  };
  return { db, feedDb: db, dialect: 'pglite', listen, append, close: () => db.destroy() };
}

/** The image as a blob: read from its file when given a path, nothing when that file is absent. */
async function readImage(image: Blob | string | undefined): Promise<Blob | undefined> {
  if (typeof image !== 'string') return image;
  try {
    return new Blob([await readFile(image)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

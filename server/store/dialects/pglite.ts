import { existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kysely } from 'kysely';
import { copyInto, copyRows } from '../copy-text';
import type { ListenHandlers, Unlisten } from '../listener';
import type { Database } from '../schema';
import type { Append, OpenDatabase } from './dialect';

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
}

/** Embedded PGlite: one in-process connection serves queries, the snapshot feed, NOTIFY and COPY. */
export async function openPGlite({ dataDir, image }: PGliteOptions): Promise<OpenDatabase> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGliteDialect } = await import('kysely-pglite-dialect');
  const inMemory = dataDir === 'memory://';
  if (!inMemory) mkdirSync(dataDir, { recursive: true });
  // PGlite loads an image only where no database is yet (it refuses to overwrite one)
  const fresh = inMemory || !existsSync(join(dataDir, 'PG_VERSION'));
  const loadDataDir = fresh ? await readImage(image) : undefined;
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
    await client.query(text, [], { blob: new Blob([copyRows(columns, rows)]) });
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

import { Kysely } from 'kysely';
import { copyInto, copyRows } from '../copy-text';
import type { ListenHandlers, Unlisten } from '../listener';
import type { Database } from '../schema';
import type { Append, OpenDatabase } from './dialect';

export interface PGliteOptions {
  /** A data directory (created if missing), or `memory://` to keep nothing. */
  dataDir: string;
  /**
   * A test/tooling aid: a data directory dumped by PGlite's `dumpDataDir` (a tarball, or the path of its file) that an
   * in-memory database starts from instead of running initdb, which costs a start about a second and a half of CPU.
   * Ignored with a data directory on disk (it keeps its own) and when the file is absent (initdb runs as usual).
   */
  image?: Blob | string;
}

/** Embedded PGlite: one in-process connection serves queries, the snapshot feed, NOTIFY and COPY. */
export async function openPGlite({ dataDir, image }: PGliteOptions): Promise<OpenDatabase> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGliteDialect } = await import('kysely-pglite-dialect');
  if (dataDir !== 'memory://') (await import('node:fs')).mkdirSync(dataDir, { recursive: true });
  const loadDataDir = dataDir === 'memory://' ? await readImage(image) : undefined;
  const client = await PGlite.create(dataDir === 'memory://' ? { loadDataDir } : { dataDir });
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
    return new Blob([await (await import('node:fs/promises')).readFile(image)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

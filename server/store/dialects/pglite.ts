import { Kysely } from 'kysely';
import { copyInto, copyRows } from '../copy-text';
import type { ListenHandlers, Unlisten } from '../listener';
import type { Database } from '../schema';
import type { Append, OpenDatabase } from './dialect';

export interface PGliteOptions {
  /** A data directory (created if missing), or `memory://` to keep nothing. */
  dataDir: string;
}

/** Embedded PGlite: one in-process connection serves queries, the snapshot feed, NOTIFY and COPY. */
export async function openPGlite({ dataDir }: PGliteOptions): Promise<OpenDatabase> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGliteDialect } = await import('kysely-pglite-dialect');
  if (dataDir !== 'memory://') (await import('node:fs')).mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir === 'memory://' ? undefined : dataDir);
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

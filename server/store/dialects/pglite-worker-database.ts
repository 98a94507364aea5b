import { Kysely } from 'kysely';
import { copyInto, copySlices } from '../copy-text';
import type { ListenHandlers, Unlisten } from '../listener';
import type { Database } from '../schema';
import type { Append, OpenDatabase } from './dialect';
import { PGliteThread } from './pglite-thread';
import { PGliteWorkerDialect, PGliteWorkerDriver, SessionLock } from './pglite-worker-dialect';

/**
 * Embedded PGlite in a worker thread: kysely, the snapshot feed, NOTIFY and COPY all reach it by message, so the
 * gateway's thread only sends statements and reads answers. `image` (bytes, or its file) is loaded only where no
 * database is yet.
 */
const encoder = new TextEncoder();

export async function openPGliteWorker(dataDir: string, image: Blob | string | undefined): Promise<OpenDatabase> {
  // a file's path goes as is: the worker reads it, while this thread goes on (and never holds its 40 MB)
  const bytes = image instanceof Blob ? new Uint8Array(await image.arrayBuffer()) : image;
  const thread = await PGliteThread.start(dataDir, bytes);
  const lock = new SessionLock();
  const driver = new PGliteWorkerDriver(thread, lock, { urgent: false, owner: true });
  const db = new Kysely<Database>({ dialect: new PGliteWorkerDialect(driver) });
  // the snapshot's reads share the session but skip the queue of admin work waiting for it
  const feedDriver = new PGliteWorkerDriver(thread, lock, { urgent: true, owner: false });
  const feedDb = new Kysely<Database>({ dialect: new PGliteWorkerDialect(feedDriver) });
  // LISTEN and COPY take the session like a query does: never inside a transaction another holder has open
  const listen = async (channel: string, handlers: ListenHandlers): Promise<Unlisten> => {
    const stop = await driver.exclusive(() => thread.listen(channel, handlers.onMessage));
    return () => driver.exclusive(stop);
  };
  const append: Append = async (table, columns, rows) => {
    // encoded here a slice at a time, as bytes of their own that move to the thread without a copy: one string of
    // the whole batch would be flattened and cloned in one piece on this thread
    const parts: Uint8Array[] = [];
    for await (const slice of copySlices(columns, rows)) parts.push(encoder.encode(slice));
    const statement = copyInto(table, columns).replace(/STDIN$/, "'/dev/blob'");
    await driver.exclusive(() => thread.copy(statement, parts));
  };
  const close = async () => {
    await feedDb.destroy();
    await db.destroy();
  };
  return { db, feedDb, dialect: 'pglite', listen, append, close };
}

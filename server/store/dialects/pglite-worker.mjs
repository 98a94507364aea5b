// @ts-check
// The embedded database's own thread: PGlite runs here, so its queries, COPYs and snapshot reads never hold the
// gateway's request thread. Plain JavaScript, so the same file runs under tsx, jest and the compiled bundle alike.
// The other end is server/store/dialects/pglite-thread.ts; every message it sends has an `id` answered once.
import { parentPort, workerData } from 'node:worker_threads';
import { readFileSync, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { PGlite } from '@electric-sql/pglite';
import { writeImageFiles } from './pglite-image-files.mjs';

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);

/** What survives the trip back of an error: its message and every plain field (PostgreSQL's `code`, `detail`, …). */
function describeError(err) {
  const fields = {};
  if (err && typeof err === 'object') {
    for (const [key, value] of Object.entries(err)) {
      if (['string', 'number', 'boolean'].includes(typeof value)) fields[key] = value;
    }
  }
  return { ...fields, name: err?.name ?? 'Error', message: err?.message ?? String(err) };
}

/** @type {Map<number, () => Promise<void>>} */
const unlistens = new Map();

/** The starting image: its bytes as given, or read here from its file (the request thread never holds them). */
function startingImage() {
  const { image, imagePath } = workerData;
  if (image || !imagePath) return image;
  try {
    return readFileSync(imagePath);
  } catch (err) {
    if (err?.code === 'ENOENT') return undefined; // no image installed: initdb, as before
    throw err;
  }
}

/** How far below the process's scheduling priority this thread runs (a nice value added, at most 19). */
const BELOW_REQUESTS = 10;

/**
 * Lowers this thread's scheduling priority: what it does (recording logs, the snapshot's reads, admin statements) can
 * wait a little, while a request waiting for a core cannot; on a busy machine a COPY here would otherwise take a core
 * from the thread serving requests and show in the proxy's tail latency. Linux only, where a thread has an id of its
 * own (`/proc/thread-self`) that setpriority takes; elsewhere the thread keeps the process's priority.
 */
function yieldToRequests() {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (tid > 0) setPriority(tid, Math.min(19, getPriority(tid) + BELOW_REQUESTS));
  } catch {
    // not Linux, or not allowed: the thread runs at the process's priority
  }
}

async function open() {
  const { dataDir } = workerData;
  const image = startingImage();
  if (dataDir === 'memory://') return PGlite.create({ loadDataDir: image ? new Blob([image]) : undefined });
  // a new data directory: its files written here, and PGlite opens them as an existing database
  const written = image && writeImageFiles(Buffer.from(image.buffer, image.byteOffset, image.byteLength), dataDir);
  return PGlite.create({ dataDir, loadDataDir: image && !written ? new Blob([image]) : undefined });
}

/** @param {import('@electric-sql/pglite').PGlite} client */
function serve(client) {
  const operations = {
    async query({ sql, params }) {
      const result = await client.query(sql, params);
      return { rows: result.rows, affectedRows: result.affectedRows };
    },
    // PGlite reads COPY … FROM '/dev/blob' from the blob given with the query
    async copy({ sql, parts }) {
      await client.query(sql, [], { blob: new Blob(parts) });
    },
    async listen({ channel, listenId }) {
      const stop = await client.listen(channel, (payload) => port.postMessage({ notify: listenId, payload }));
      unlistens.set(listenId, stop);
    },
    async unlisten({ listenId }) {
      const stop = unlistens.get(listenId);
      unlistens.delete(listenId);
      if (stop && !client.closed) await stop();
    },
    async close() {
      if (!client.closed) await client.close();
    },
  };
  // each operation calls into PGlite before its first await, so PGlite's own queue keeps the order of arrival
  port.on('message', async (message) => {
    try {
      const result = await operations[message.op](message);
      port.postMessage({ id: message.id, result });
    } catch (err) {
      port.postMessage({ id: message.id, error: describeError(err) });
    }
  });
}

try {
  yieldToRequests();
  serve(await open());
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ failed: describeError(err) });
}

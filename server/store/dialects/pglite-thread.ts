import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../../lib/package-root';

/** The worker's script: plain JavaScript beside this module's source, found from the source or the bundle alike. */
const WORKER_SCRIPT = join(packageRoot(__dirname), 'server', 'store', 'dialects', 'pglite-worker.mjs');

/** What PGlite answers a query with, as the worker sends it back. */
export interface ThreadResult {
  rows: Record<string, unknown>[];
  affectedRows?: number;
}

type Reply = { id: number; result?: unknown; error?: Record<string, unknown> };
type Pending = { resolve(value: unknown): void; reject(err: Error): void };

/**
 * PGlite in a worker thread, and the requests this thread sends it: each message carries an id, answered once.
 * The worker holds the process open only while an answer is awaited, as an in-process PGlite would (it holds nothing).
 */
export class PGliteThread {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly subscribers = new Map<number, (payload: string) => void>();
  private stopped: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (message: Reply & { notify?: number; payload?: string }) => {
      if (message.notify !== undefined) this.subscribers.get(message.notify)?.(message.payload ?? '');
      else this.settle(message);
    });
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => this.fail(new Error(`Connection terminated: the PGlite thread exited (code ${code})`)));
  }

  /**
   * Starts the worker on `dataDir` (loading `image` where no database is yet: its bytes, or the path of its file,
   * which the worker reads itself) and waits until PGlite is open.
   */
  static async start(dataDir: string, image: Uint8Array | string | undefined): Promise<PGliteThread> {
    // the image's bytes move to the worker rather than being copied
    const transferList = image instanceof Uint8Array ? [image.buffer as ArrayBuffer] : [];
    const workerData =
      typeof image === 'string' ? { dataDir, imagePath: image } : { dataDir, image: image ?? undefined };
    const worker = new Worker(WORKER_SCRIPT, { workerData, transferList });
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`the PGlite thread exited while opening (code ${code})`));
      worker.once('error', reject);
      worker.once('exit', onExit);
      worker.once('message', (message: { ready?: true; failed?: Record<string, unknown> }) => {
        worker.off('error', reject);
        worker.off('exit', onExit);
        if (message.ready) resolve();
        else reject(rebuildError(message.failed ?? {}));
      });
    });
    worker.unref();
    return new PGliteThread(worker);
  }

  query(sql: string, params: readonly unknown[]): Promise<ThreadResult> {
    return this.request('query', { sql, params: params.map(cloneableParameter) }) as Promise<ThreadResult>;
  }

  /** Runs a `COPY … FROM '/dev/blob'` statement reading `parts` in turn; their buffers move to the thread. */
  async copy(sql: string, parts: Uint8Array[]): Promise<void> {
    await this.request('copy', { sql, parts }, [...new Set(parts.map((p) => p.buffer as ArrayBuffer))]);
  }

  /** LISTENs on `channel`; returns what stops it. */
  async listen(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>> {
    const listenId = this.nextId++;
    this.subscribers.set(listenId, onMessage);
    await this.request('listen', { channel, listenId });
    return async () => {
      this.subscribers.delete(listenId);
      if (!this.stopped) await this.request('unlisten', { listenId });
    };
  }

  /** Closes PGlite (flushing it to its data directory), then ends the thread. */
  async close(): Promise<void> {
    if (this.stopped) return;
    await this.request('close', {});
    this.stopped = new Error('Connection terminated: the PGlite thread was closed');
    await this.worker.terminate();
  }

  private request(op: string, body: object, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.stopped) return Promise.reject(new Error(this.stopped.message));
    const id = this.nextId++;
    if (this.pending.size === 0) this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...body, id, op }, transfer);
    });
  }

  private settle({ id, result, error }: Reply): void {
    const waiting = this.pending.get(id);
    if (!waiting) return;
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
    if (error) waiting.reject(rebuildError(error));
    else waiting.resolve(result);
  }

  private fail(err: Error): void {
    this.stopped ??= err;
    for (const waiting of this.pending.values()) waiting.reject(new Error(err.message, { cause: err }));
    this.pending.clear();
  }
}

/** The error the worker described, with its fields (`code`, `detail`, `constraint`, …) as PGlite gave them. */
function rebuildError(fields: Record<string, unknown>): Error {
  const err = new Error(String(fields.message ?? 'PGlite error'));
  for (const [key, value] of Object.entries(fields)) if (key !== 'message') Object.assign(err, { [key]: value });
  return err;
}

/**
 * A parameter as PGlite in this thread would have seen it. Structured cloning keeps primitives, dates, byte arrays and
 * plain objects, but drops prototypes, so a value PGlite would have turned into JSON through its `toJSON` (or its
 * class) is turned into JSON here; bytes go as bytes (a Buffer's own `toJSON` is not what PGlite writes for bytea).
 */
function cloneableParameter(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  // a copy of the bytes alone: cloning a view copies its whole buffer (a Buffer's may be a shared 8 KB pool)
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
  return plain(value) ? value : JSON.parse(JSON.stringify(value));
}

/** True for arrays and plain objects made only of what cloning keeps as it is. */
function plain(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return typeof value !== 'function' && typeof value !== 'symbol';
  if (value instanceof Date) return true;
  // JSON of a Buffer is not JSON of its clone (a Uint8Array)
  if (ArrayBuffer.isView(value)) return Object.getPrototypeOf(value) === Uint8Array.prototype;
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return false;
  if ('toJSON' in value) return false;
  return Object.values(value).every(plain);
}

import cluster, { type Worker } from 'node:cluster';

/** A worker's request to the primary, and the primary's answer (the cluster's IPC channel carries both). */
interface Call {
  portico: 'call';
  id: number;
  op: string;
  body: unknown;
}
interface Answer {
  portico: 'answer';
  id: number;
  result?: unknown;
  error?: string;
}

/** What the primary does for its workers, by operation; the result goes back as JSON. */
export type Handlers = Record<string, (body: any, worker: Worker) => unknown>;

/**
 * The worker's end of the cluster's IPC channel: calls to the primary answered in turn (by id), and one-way notes.
 * A call the primary does not answer within `timeoutMs` (it is gone, or stuck) fails rather than wait forever.
 */
export class PrimaryChannel {
  private next = 0;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  constructor(private readonly timeoutMs = 2000) {
    process.on('message', (m: Answer) => {
      if (m?.portico !== 'answer') return;
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.error !== undefined) w.reject(new Error(m.error));
      else w.resolve(m.result);
    });
  }

  call<T>(op: string, body: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    const id = ++this.next;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`the primary process did not answer ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      const call: Call = { portico: 'call', id, op, body };
      process.send?.(call); // a closed channel is reported by the timeout
    });
  }
}

let channel: PrimaryChannel | undefined;

/** This worker's channel to its primary; undefined in a process that is not a Portico worker. */
export function primaryChannel(): PrimaryChannel | undefined {
  if (!cluster.isWorker || !process.env.PORTICO_WORKER_INDEX) return undefined;
  return (channel ??= new PrimaryChannel());
}

/** Calls the primary made to each worker, waiting for their answers by id. */
const asked = new WeakMap<Worker, Map<number, (a: Answer) => void>>();
let nextAsk = 0;

/** Asks a worker (what it alone knows: its metrics); fails when it does not answer within `timeoutMs`. */
export function askWorker<T>(worker: Worker, op: string, body: unknown = {}, timeoutMs = 2000): Promise<T> {
  const id = ++nextAsk;
  const waiting = asked.get(worker) ?? new Map<number, (a: Answer) => void>();
  asked.set(worker, waiting);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new Error(`worker did not answer ${op} within ${timeoutMs} ms`));
    }, timeoutMs);
    waiting.set(id, (a) => {
      clearTimeout(timer);
      waiting.delete(id);
      if (a.error !== undefined) reject(new Error(a.error));
      else resolve(a.result as T);
    });
    if (!worker.isConnected()) return;
    worker.send({ portico: 'call', id, op, body } satisfies Call);
  });
}

/** The worker's end of the primary's calls ({@link askWorker}). */
export function servePrimary(handlers: Record<string, (body: any) => unknown>): void {
  process.on('message', async (m: Call) => {
    if (m?.portico !== 'call') return;
    const answer: Answer = { portico: 'answer', id: m.id };
    try {
      const handler = handlers[m.op];
      if (!handler) throw new Error(`unknown operation ${m.op}`);
      answer.result = await handler(m.body);
    } catch (err) {
      answer.error = err instanceof Error ? err.message : String(err);
    }
    process.send?.(answer);
  });
}

/** The primary's end for one worker: each call is handled and answered; an unknown operation is an error answer. */
export function serveWorker(worker: Worker, handlers: Handlers): void {
  worker.on('message', async (m: Call | Answer) => {
    if (m?.portico === 'answer') return asked.get(worker)?.get(m.id)?.(m);
    if (m?.portico !== 'call') return;
    const answer: Answer = { portico: 'answer', id: m.id };
    try {
      const handler = handlers[m.op];
      if (!handler) throw new Error(`unknown operation ${m.op}`);
      answer.result = await handler(m.body, worker);
    } catch (err) {
      answer.error = err instanceof Error ? err.message : String(err);
    }
    if (worker.isConnected()) worker.send(answer);
  });
}

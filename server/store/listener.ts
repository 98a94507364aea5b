import type { Client as PgClient } from 'pg';
import { within } from '../lib/within';
import type { DatabaseTimeouts } from './dialects/dialect';

/** A LISTEN subscription: messages, and `onReset` after a lost connection came back (anything may have been missed). */
export interface ListenHandlers {
  onMessage(payload: string): void;
  onReset(): void;
  onError?(err: Error): void;
}

export type Unlisten = () => Promise<void>;

/**
 * LISTENs on a dedicated PostgreSQL connection. When the connection drops it reconnects with backoff (100 ms doubling
 * to 2 s) and calls `onReset`, since notifications sent meanwhile are lost.
 */
export async function listenPostgres(
  url: string,
  channel: string,
  handlers: ListenHandlers,
  timeouts: DatabaseTimeouts,
): Promise<Unlisten> {
  const { Client } = await import('pg');
  let client: PgClient | undefined;
  let stopped = false;
  let delay = 100;
  let timer: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    // keepAlive: a dead server's silence is noticed (and the connection re-made) instead of waited on forever
    const c = new Client({
      connectionString: url,
      application_name: 'portico-listener',
      connectionTimeoutMillis: timeouts.connectMs,
      keepAlive: true,
    });
    c.on(
      'notification',
      (msg) => msg.channel === channel && msg.payload !== undefined && handlers.onMessage(msg.payload),
    );
    c.on('error', (err) => handlers.onError?.(err));
    c.on('end', () => {
      if (client === c) client = undefined;
      if (!stopped) schedule();
    });
    await c.connect();
    await c.query(`LISTEN ${channel}`);
    client = c;
    delay = 100;
  };
  const schedule = () => {
    if (timer || stopped) return;
    timer = setTimeout(async () => {
      timer = undefined;
      try {
        await connect();
        handlers.onReset();
      } catch (err) {
        handlers.onError?.(err as Error);
        delay = Math.min(delay * 2, 2000);
        schedule();
      }
    }, delay);
  };

  await connect();
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    const c = client;
    client = undefined;
    // a hung server never answers the goodbye: give it a moment, then drop the socket
    if (c)
      await within(
        c.end().catch(() => {}),
        500,
      );
    (c as unknown as { connection?: { stream?: { destroy(): void } } } | undefined)?.connection?.stream?.destroy();
  };
}

import { sql } from 'kysely';
import type { AppendHook } from './append-hook';
import type { OpenDatabase } from './database';
import type { Unlisten } from './listener';
import { CHANGE_CHANNEL, type ConfigSnapshot } from './snapshot';

/** Announces each changed resource on {@link CHANGE_CHANNEL}; NOTIFY is transactional, so only commits are announced. */
export const notifyChanges: AppendHook = async (tx, events) => {
  const payloads = new Set<string>();
  for (const e of events) if (e.resource) payloads.add(JSON.stringify({ kind: e.resource.kind, id: e.resource.id }));
  // one statement per 1,000 notifications rather than a round trip each (a config import appends thousands)
  const list = [...payloads];
  for (let i = 0; i < list.length; i += 1000) {
    const rows = sql.join(list.slice(i, i + 1000).map((payload) => sql`(${payload}::text)`));
    await sql`select pg_notify(${CHANGE_CHANNEL}, p) from (values ${rows}) as v(p)`.execute(tx);
  }
};

/** Keeps `snapshot` current from the database's change notifications; resolves once listening. */
export function followChanges(
  database: OpenDatabase,
  snapshot: ConfigSnapshot,
  onError: (err: unknown) => void,
): Promise<Unlisten> {
  return database.listen(CHANGE_CHANNEL, {
    onMessage: (payload) => {
      try {
        const { kind, id } = JSON.parse(payload) as { kind: string; id: string };
        void snapshot.refresh(kind, id);
      } catch (err) {
        onError(err);
      }
    },
    onReset: () => void snapshot.reload(),
    onError,
  });
}

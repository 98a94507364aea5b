import { sql } from 'kysely';
import type { AppendPart } from './append-hook';
import type { OpenDatabase } from './database';
import type { Unlisten } from './listener';
import { CHANGE_CHANNEL, type ConfigSnapshot } from './snapshot';

/**
 * Announces each changed resource on {@link CHANGE_CHANNEL}, from the statement that appends the change's events:
 * NOTIFY is transactional (delivered at commit, wherever in the transaction it was sent), so only commits are
 * announced. A plain SELECT, so it runs because the append counts its rows.
 */
export const notifyChanges: AppendPart = {
  statement(events, when) {
    const payloads = new Set<string>();
    for (const e of events) if (e.resource) payloads.add(JSON.stringify({ kind: e.resource.kind, id: e.resource.id }));
    if (!payloads.size) return undefined;
    // the payloads one JSON parameter, not a parameter each (a config import appends thousands)
    const list = JSON.stringify([...payloads]);
    return sql`select pg_notify(${CHANGE_CHANNEL}, p) from json_array_elements_text(${list}::json) as v(p) where ${when}`;
  },
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

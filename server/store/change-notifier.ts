import { sql } from 'kysely';
import type { UnlinkedHook } from './append-hook';
import type { OpenDatabase } from './database';
import type { Unlisten } from './listener';
import { CHANGE_CHANNEL, type ConfigSnapshot } from './snapshot';

/**
 * Announces each changed resource on {@link CHANGE_CHANNEL}; NOTIFY is transactional, so only commits are announced,
 * and it needs no place in the chain, so it is sent before the chain is locked.
 */
export const notifyChanges: UnlinkedHook = {
  async beforeLink(tx, entries) {
    const payloads = new Set<string>();
    for (const e of entries) if (e.resource) payloads.add(JSON.stringify({ kind: e.resource.kind, id: e.resource.id }));
    if (!payloads.size) return;
    // one statement, the payloads one JSON parameter, rather than a round trip each (a config import appends thousands)
    const list = JSON.stringify([...payloads]);
    await sql`select pg_notify(${CHANGE_CHANNEL}, p) from json_array_elements_text(${list}::json) as v(p)`.execute(tx);
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

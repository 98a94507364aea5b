import { sql } from 'kysely';
import type { ApiKeyState, Kind, StateOfKind } from '../resources';
import type { Db } from './schema';

/*
 * API keys in the snapshot: compact entries, all of them in memory, rather than keys loaded lazily by hash.
 *
 * Why all in memory: authentication stays a map lookup with no database on the hot path, an unknown or revoked key
 * is refused without a query (a lazy cache would send every made-up key to the database, or need a negative cache
 * that revocation and creation must both reach), and the change feed already keeps every entry current (revocation
 * within a second). Why compact: a node holds 100,000 keys and more, and a key's whole document (name, prefix,
 * last_used_at, revoked_at, …) is of no use to the data plane. So an entry holds what authentication, limits and
 * the mTLS binding read (below), its strings shared where many keys have the same (tenant, status, tier), and a
 * full load reads these fields with a narrow SELECT, in pages, instead of every key's JSON document at once.
 */

/** What the data plane reads of an API key (key-auth, limiter, mTLS binding, quotas, policies by key id). */
export type SnapshotApiKey = Pick<
  ApiKeyState,
  'id' | 'tenant_id' | 'status' | 'expires_at' | 'rate_limit_tier' | 'metadata'
>;

/** The kind whose snapshot entries are compact. */
export const COMPACT_KEY_KIND = 'api_key';

/** The state the snapshot holds of a kind: all of it, but for API keys what the data plane reads. */
export type Held<K extends Kind> = K extends typeof COMPACT_KEY_KIND ? SnapshotApiKey : StateOfKind<K>;

/** Keys read per query by a full load: bounds what a load holds at once besides the entries it made. */
const PAGE = 20_000;

/** Most keys have no labels: they share this one (frozen) empty object. */
const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

/** One compact key: one hidden class for all of them, so each is a few words of memory. */
class KeyEntry implements SnapshotApiKey {
  [field: string]: unknown;
  constructor(
    readonly id: string,
    readonly tenant_id: string,
    readonly status: SnapshotApiKey['status'],
    readonly expires_at: string | null,
    readonly rate_limit_tier: string | null,
    readonly metadata: Record<string, string>,
  ) {}
}

/**
 * Makes compact entries, sharing equal strings (tenant ids, statuses, tiers): the database hands each row its own
 * copies, and 100,000 keys of 1,000 tenants would otherwise hold 100,000 copies of the same few thousand strings.
 */
export class KeyEntries {
  private strings = new Map<string, string>();

  private shared<T extends string | null>(s: T): T {
    if (s === null) return s;
    const known = this.strings.get(s);
    if (known !== undefined) return known as T;
    this.strings.set(s, s);
    return s;
  }

  make(
    id: string,
    tenantId: string | null,
    data: { status?: unknown; expires_at?: unknown; rate_limit_tier?: unknown; metadata?: unknown },
  ): SnapshotApiKey & Record<string, unknown> & { tenant_id: string | null } {
    const metadata = data.metadata as Record<string, string> | null | undefined;
    return new KeyEntry(
      id,
      this.shared(tenantId as string),
      this.shared((data.status ?? 'ACTIVE') as SnapshotApiKey['status']),
      (data.expires_at as string | null | undefined) ?? null,
      this.shared((data.rate_limit_tier as string | null | undefined) ?? null),
      metadata && Object.keys(metadata).length > 0 ? metadata : NO_METADATA,
    );
  }
}

export interface KeyRow {
  id: string;
  tenant_id: string | null;
  lookup: string | null;
  status: string | null;
  expires_at: string | null;
  rate_limit_tier: string | null;
  metadata: Record<string, string> | null;
}

/**
 * Every API key, in pages of `pageSize` ordered by (id, owner), each page handed to `take` before the next is read: only
 * the fields of SnapshotApiKey, read out of the JSON document by the database.
 */
export async function loadKeyPages(db: Db, take: (rows: KeyRow[]) => void, pageSize = PAGE): Promise<void> {
  let after: { id: string; owner: string } | undefined;
  for (;;) {
    let query = db
      .selectFrom('resources')
      .select([
        'id',
        'tenant_id',
        'owner',
        'lookup',
        sql<string | null>`data->>'status'`.as('status'),
        sql<string | null>`data->>'expires_at'`.as('expires_at'),
        sql<string | null>`data->>'rate_limit_tier'`.as('rate_limit_tier'),
        sql<Record<string, string> | null>`nullif(data->'metadata', '{}'::jsonb)`.as('metadata'),
      ])
      .where('kind', '=', COMPACT_KEY_KIND);
    if (after) query = query.where(sql<boolean>`(id, owner) > (${after.id}, ${after.owner})`);
    const rows = await query.orderBy('id').orderBy('owner').limit(pageSize).execute();
    take(rows);
    if (rows.length < pageSize) return;
    const last = rows[rows.length - 1]!;
    after = { id: last.id, owner: last.owner };
  }
}

import { EventEmitter } from 'node:events';
import type { Db } from './schema';

/** One resource as the data plane reads it: identity plus its public state. */
export type SnapshotEntry = Record<string, unknown> & { id: string; tenant_id: string | null };

/** The channel every committed change is announced on (payload: `{"kind","id"}`). */
export const CHANGE_CHANNEL = 'portico_changes';

interface Row {
  kind: string;
  id: string;
  tenant_id: string | null;
  data: Record<string, unknown>;
  lookup: string | null;
  secret: string | null;
}

/** A burst of more notifications than this is one full reload rather than a long list of ids. */
const FULL_RELOAD_AT = 500;

/** Kinds whose sealed secret the data plane needs in memory (still encrypted; opened per call). */
const SEALED_KINDS = new Set(['credential']);

/**
 * An in-memory copy of configuration (tenants, keys by hash, routes, budgets, …) so the data plane never queries the
 * database on its hot path. A full load at start; then the rows of change notifications, a burst read in one query;
 * a full reload after the notification connection was lost. Loads run one at a time, in arrival order, on `db`,
 * which should be a connection of the snapshot's own (see `OpenDatabase.feedDb`).
 */
export class ConfigSnapshot extends EventEmitter {
  private byKind = new Map<string, Map<string, SnapshotEntry>>();
  private byLookup = new Map<string, SnapshotEntry>();
  /** `kind:id` → its key in byLookup, so a refresh can drop the old one. */
  private lookupKeys = new Map<string, string>();
  /** `kind:id` → the sealed (encrypted) secret, for kinds the data plane must use (provider credentials). */
  private sealed = new Map<string, string>();
  private memos = new Map<string, unknown>();
  private queue: Promise<void> = Promise.resolve();
  /** Resources notified but not yet reloaded, by kind; read together by the next batch. */
  private dirty = new Map<string, Set<string>>();
  private nextBatch: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  /** Count of full loads, for observability and tests. */
  loads = 0;

  constructor(
    private readonly db: Db,
    private readonly kinds: readonly string[],
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    super();
  }

  get(kind: string, id: string): SnapshotEntry | undefined {
    return this.byKind.get(kind)?.get(id);
  }

  /** Finds a resource by its lookup value (an API key by the hash of its plaintext). */
  lookup(kind: string, lookup: string): SnapshotEntry | undefined {
    return this.byLookup.get(`${kind}:${lookup}`);
  }

  /** The sealed secret of a resource (credentials), to be opened with the master key. */
  sealedSecret(kind: string, id: string): string | undefined {
    return this.sealed.get(`${kind}:${id}`);
  }

  /** Every resource of a kind. The array is shared until the next change: read it, do not change it. */
  all(kind: string): readonly SnapshotEntry[] {
    return this.memo(`all:${kind}`, () => [...(this.byKind.get(kind)?.values() ?? [])]);
  }

  /**
   * A value derived from the snapshot (a tenant's sorted routes), computed once and kept until the next change, so
   * the hot path does not redo it per request. Keys must come from a bounded set (kinds, tenant ids).
   */
  memo<T>(key: string, compute: () => T): T {
    if (this.memos.has(key)) return this.memos.get(key) as T;
    const value = compute();
    this.memos.set(key, value);
    return value;
  }

  /** Reloads everything (start-up, and after a lost notification connection). */
  reload(): Promise<void> {
    return this.enqueue(() => this.loadAll());
  }

  private async loadAll(): Promise<void> {
    const rows = (await this.db.selectFrom('resources').select(['kind', 'id', 'tenant_id', 'data', 'lookup', 'secret']).where('kind', 'in', [...this.kinds]).execute()) as Row[];
    const byKind = new Map<string, Map<string, SnapshotEntry>>(this.kinds.map((k) => [k, new Map()]));
    const byLookup = new Map<string, SnapshotEntry>();
    const lookupKeys = new Map<string, string>();
    const sealed = new Map<string, string>();
    for (const row of rows) {
      const entry = toEntry(row);
      if (row.secret && SEALED_KINDS.has(row.kind)) sealed.set(`${row.kind}:${row.id}`, row.secret);
      byKind.get(row.kind)!.set(row.id, entry);
      if (row.lookup) {
        byLookup.set(`${row.kind}:${row.lookup}`, entry);
        lookupKeys.set(`${row.kind}:${row.id}`, `${row.kind}:${row.lookup}`);
      }
    }
    this.byKind = byKind;
    this.byLookup = byLookup;
    this.lookupKeys = lookupKeys;
    this.sealed = sealed;
    this.memos.clear();
    this.loads++;
    this.emit('reload');
  }

  /**
   * Reloads a resource after its change notification. Notifications that arrive while a load runs are gathered and
   * read together in one query when it ends (a burst of changes costs one round trip, not one each); a very large
   * burst is one full reload. Resolves once the resource's current state is in the snapshot.
   */
  refresh(kind: string, id: string): Promise<void> {
    if (this.closed || !this.kinds.includes(kind)) return Promise.resolve();
    this.markDirty(kind, id);
    return (this.nextBatch ??= this.enqueue(() => this.applyDirty()));
  }

  /** Stops following changes: pending reloads are dropped and a running one is awaited, before the database closes. */
  async close(): Promise<void> {
    this.closed = true;
    this.dirty.clear();
    if (this.retry) clearTimeout(this.retry);
    await this.queue;
  }

  private async applyDirty(): Promise<void> {
    this.nextBatch = undefined; // notifications from now on make the next batch
    const dirty = this.dirty;
    this.dirty = new Map();
    let count = 0;
    for (const ids of dirty.values()) count += ids.size;
    if (count > FULL_RELOAD_AT) return this.loadAll();
    let rows: Row[];
    try {
      rows = (await this.db
        .selectFrom('resources')
        .select(['kind', 'id', 'tenant_id', 'data', 'lookup', 'secret'])
        .where((eb) => eb.or([...dirty].map(([kind, ids]) => eb.and([eb('kind', '=', kind), eb('id', 'in', [...ids])]))))
        .execute()) as Row[];
    } catch (err) {
      this.retryLater(dirty);
      throw err;
    }
    const found = new Map(rows.map((r) => [`${r.kind}:${r.id}`, r]));
    for (const [kind, ids] of dirty) for (const id of ids) this.apply(kind, id, found.get(`${kind}:${id}`));
    this.memos.clear();
    for (const [kind, ids] of dirty) for (const id of ids) this.emit('change', kind, id);
  }

  /** A batch that could not be read (the database is unavailable) is tried again, with whatever came since. */
  private retryLater(dirty: Map<string, Set<string>>): void {
    if (this.closed) return;
    for (const [kind, ids] of dirty) for (const id of ids) this.markDirty(kind, id);
    this.retry ??= setTimeout(() => {
      this.retry = undefined;
      if (!this.closed) this.nextBatch ??= this.enqueue(() => this.applyDirty());
    }, 1000).unref();
  }

  /** Notes a resource for the next batch. */
  private markDirty(kind: string, id: string): void {
    let ids = this.dirty.get(kind);
    if (!ids) this.dirty.set(kind, (ids = new Set()));
    ids.add(id);
  }

  /** Puts one resource's current row (or its absence) in place of what the snapshot held. */
  private apply(kind: string, id: string, row: Row | undefined): void {
    const map = this.byKind.get(kind)!;
    const self = `${kind}:${id}`;
    const oldKey = this.lookupKeys.get(self);
    if (oldKey) this.byLookup.delete(oldKey);
    this.lookupKeys.delete(self);
    this.sealed.delete(self);
    if (row?.secret && SEALED_KINDS.has(kind)) this.sealed.set(self, row.secret);
    if (row) {
      const entry = toEntry(row);
      map.set(id, entry);
      if (row.lookup) {
        this.byLookup.set(`${kind}:${row.lookup}`, entry);
        this.lookupKeys.set(self, `${kind}:${row.lookup}`);
      }
    } else {
      map.delete(id);
    }
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = () => (this.closed ? undefined : work());
    const next = this.queue.then(run, run);
    this.queue = next.catch((err) => {
      if (!this.closed) this.onError(err);
    });
    return next;
  }
}

function toEntry(row: Row): SnapshotEntry {
  return { ...row.data, id: row.id, tenant_id: row.tenant_id };
}

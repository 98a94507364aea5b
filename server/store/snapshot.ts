import { EventEmitter } from 'node:events';
import type { Kind, ResourceDefinition } from '../resources';
import type { Db } from './schema';
import { KindIndex } from './snapshot-index';
import { COMPACT_KEY_KIND, KeyEntries, loadKeyPages, type Held } from './snapshot-keys';

/** One resource as the data plane reads it: identity plus its public state (typed per kind by the accessors). */
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

/** Whether the data plane needs a kind's sealed secret in memory (still encrypted; opened per call). */
const keepsSealed = (def: ResourceDefinition) => def.secret?.mode === 'encrypted' && def.secret.inSnapshot === true;

/**
 * An in-memory copy of configuration (tenants, keys by hash, routes, budgets, …) so the data plane never queries the
 * database on its hot path. A full load at start; then the rows of change notifications, a burst read in one query;
 * a full reload after the notification connection was lost. Loads run one at a time, in arrival order, on `db`,
 * which should be a connection of the snapshot's own (see `OpenDatabase.feedDb`).
 *
 * A resource is identified by (kind, owner, id): two tenants may each have a service "billing". Accessors are typed
 * by kind (`all('route')` is `RouteState[]`); the state was validated against its definition when it was written.
 */
export class ConfigSnapshot extends EventEmitter {
  private byKind = new Map<string, KindIndex>();
  /** An entry → its sealed (encrypted) secret, for kinds the data plane must use (provider credentials). */
  private sealed = new WeakMap<SnapshotEntry, string>();
  /** Per-kind lists and per-owner lists, built on first use and dropped when their kind changes. */
  private lists = new Map<string, readonly SnapshotEntry[]>();
  private owned = new Map<string, Map<string | null, SnapshotEntry[]>>();
  private memos = new Map<string, unknown>();
  private keys = new KeyEntries(); // makes compact key entries, sharing their strings (new with each full load)
  /** The kinds a memo was derived from (none given: any change drops it). */
  private memoKinds = new Map<string, readonly string[]>();
  private queue: Promise<void> = Promise.resolve();
  /** Resources notified but not yet reloaded, by kind; read together by the next batch. */
  private dirty = new Map<string, Set<string>>();
  private nextBatch: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly kinds: readonly string[];
  private readonly sealedKinds: ReadonlySet<string>;
  loads = 0; // full loads so far, for observability and tests

  /** `definitions`: the kinds to hold (the registry's with `snapshot` not false). */
  constructor(
    private readonly db: Db,
    definitions: readonly ResourceDefinition[],
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    super();
    this.kinds = definitions.map((d) => d.kind);
    this.sealedKinds = new Set(definitions.filter(keepsSealed).map((d) => d.kind));
  }

  /**
   * A resource by id as `tenantId` sees it: the tenant's own, else the global one (tenant_id null). `null` finds only
   * a global one. Left out, any owner's: for global kinds (tenants, tiers) and ids no two owners share (server-made
   * key ids); never to resolve a reference, which is resolved in the tenant of the resource that names it.
   */
  get<K extends Kind>(kind: K, id: string, tenantId?: string | null): Held<K> | undefined;
  /** A kind known only at run time (tests, generic code): an untyped entry. */
  get(kind: string, id: string, tenantId?: string | null): SnapshotEntry | undefined;
  get(kind: string, id: string, tenantId?: string | null): SnapshotEntry | undefined {
    return this.byKind.get(kind)?.get(id, tenantId);
  }

  /** Finds a resource by its lookup value (an API key by the hash of its plaintext). */
  lookup<K extends Kind>(kind: K, lookup: string): Held<K> | undefined {
    return this.byKind.get(kind)?.lookup(lookup) as Held<K> | undefined;
  }

  /** The sealed secret of a resource the snapshot holds (a credential), to be opened with the master key. */
  sealedSecret(entry: { id: string; tenant_id: string | null }): string | undefined {
    return this.sealed.get(entry as SnapshotEntry);
  }

  /** Every resource of a kind. The array is shared until the next change: read it, do not change it. */
  all<K extends Kind>(kind: K): readonly Held<K>[];
  all(kind: string): readonly SnapshotEntry[];
  all(kind: string): readonly SnapshotEntry[] {
    let list = this.lists.get(kind);
    if (!list) {
      this.lists.set(kind, (list = [...(this.byKind.get(kind)?.entries() ?? [])]));
    }
    return list;
  }

  /**
   * The resources of a kind one owner holds: a tenant's (`'acme'`) or the global ones (`null`), not both. Shared
   * until the next change, like `all`.
   */
  ownedBy<K extends Kind>(kind: K, tenantId: string | null): readonly Held<K>[] {
    let byOwner = this.owned.get(kind);
    if (!byOwner) {
      byOwner = new Map();
      for (const e of this.all(kind)) {
        const list = byOwner.get(e.tenant_id);
        if (list) list.push(e);
        else byOwner.set(e.tenant_id, [e]);
      }
      this.owned.set(kind, byOwner);
    }
    return (byOwner.get(tenantId) ?? NONE) as readonly Held<K>[];
  }

  /**
   * A value derived from the snapshot (a tenant's sorted routes), computed once and kept until the next change, so
   * the hot path does not redo it per request. Keys must come from a bounded set (kinds, tenant ids). With `kinds`,
   * only a change of those kinds drops it: a key created does not cost the next request a rebuilt route index.
   */
  memo<T>(key: string, compute: () => T, kinds?: readonly string[]): T {
    if (this.memos.has(key)) return this.memos.get(key) as T;
    const value = compute();
    this.memos.set(key, value);
    if (kinds) this.memoKinds.set(key, kinds);
    return value;
  }

  /** Reloads everything (start-up, and after a lost notification connection). */
  reload(): Promise<void> {
    return this.enqueue(() => this.loadAll());
  }

  private async loadAll(): Promise<void> {
    const documents = this.kinds.filter((k) => k !== COMPACT_KEY_KIND);
    const rows = (await this.db
      .selectFrom('resources')
      .select(['kind', 'id', 'tenant_id', 'data', 'lookup', 'secret'])
      .where('kind', 'in', documents)
      .execute()) as Row[];
    const keys = new KeyEntries();
    const compact: [SnapshotEntry, string | null][] = [];
    if (documents.length < this.kinds.length)
      await loadKeyPages(this.db, (page) => {
        for (const k of page) compact.push([keys.make(k.id, k.tenant_id, k), k.lookup]);
      });
    // all read: the state is replaced in one go, so no request meets a half-loaded snapshot
    [this.byKind, this.keys] = [new Map(this.kinds.map((k) => [k, new KindIndex()])), keys];
    this.sealed = new WeakMap();
    for (const row of rows) this.put(row);
    for (const [entry, lookup] of compact) this.add(COMPACT_KEY_KIND, entry, lookup);
    this.changed();
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
        .where((eb) =>
          eb.or([...dirty].map(([kind, ids]) => eb.and([eb('kind', '=', kind), eb('id', 'in', [...ids])]))),
        )
        .execute()) as Row[];
    } catch (err) {
      this.retryLater(dirty);
      throw err;
    }
    for (const [kind, ids] of dirty) for (const id of ids) this.drop(kind, id);
    for (const row of rows) this.put(row);
    this.changed(dirty.keys());
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

  /** Removes every owner's entry of one id (a refresh then puts back the rows that still exist). */
  private drop(kind: string, id: string): void {
    this.byKind.get(kind)!.drop(id);
  }

  /** Adds one row: by (kind, id, owner), by lookup value, and its sealed secret if the data plane needs it. */
  private put(row: Row): void {
    const entry =
      row.kind === COMPACT_KEY_KIND
        ? this.keys.make(row.id, row.tenant_id, row.data)
        : { ...row.data, id: row.id, tenant_id: row.tenant_id };
    this.add(row.kind, entry, row.lookup);
    if (row.secret && this.sealedKinds.has(row.kind)) this.sealed.set(entry, row.secret);
  }

  private add(kind: string, entry: SnapshotEntry, lookup: string | null): void {
    this.byKind.get(kind)!.add(entry, lookup);
  }

  /** Forgets what was derived from the previous state of `kinds` (lists, memos), or of everything. */
  private changed(kinds?: Iterable<string>): void {
    if (!kinds) {
      this.lists.clear();
      this.owned.clear();
      this.memos.clear();
      this.memoKinds.clear();
      return;
    }
    const touched = new Set(kinds);
    for (const kind of touched) {
      this.lists.delete(kind);
      this.owned.delete(kind);
    }
    for (const key of [...this.memos.keys()]) {
      const from = this.memoKinds.get(key);
      if (from && !from.some((k) => touched.has(k))) continue;
      this.memos.delete(key);
      this.memoKinds.delete(key);
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

const NONE: readonly SnapshotEntry[] = [];

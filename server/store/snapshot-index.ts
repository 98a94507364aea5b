import type { SnapshotEntry } from './snapshot';

/**
 * The entries of one kind in the snapshot: by id and owner (a tenant id, or null for a global one: ids are unique
 * per owner), and by lookup value (an API key's hash). Built for 100,000 keys and more: an id with one owner, as
 * nearly all are, maps straight to its entry (a Map per id cost a node tens of MB and most of its load time), and the
 * entry → lookup value side is a plain Map (a WeakMap's ephemerons are slow to fill and to collect).
 */
export class KindIndex {
  private readonly byId = new Map<string, SnapshotEntry | Map<string | null, SnapshotEntry>>();
  private readonly byLookup = new Map<string, SnapshotEntry>();
  private readonly lookupOf = new Map<SnapshotEntry, string>();

  /** `tenantId`: the tenant's own, else the global one; null: only a global one; undefined: any owner's. */
  get(id: string, tenantId?: string | null): SnapshotEntry | undefined {
    const held = this.byId.get(id);
    if (held === undefined || !(held instanceof Map)) {
      if (held === undefined || tenantId === undefined) return held;
      return held.tenant_id === tenantId || held.tenant_id === null ? held : undefined;
    }
    if (tenantId === undefined) return held.values().next().value;
    return (tenantId !== null ? held.get(tenantId) : undefined) ?? held.get(null);
  }

  lookup(value: string): SnapshotEntry | undefined {
    return this.byLookup.get(value);
  }

  /** Adds (or replaces) the entry of its (id, owner), found by `lookup` too when given. */
  add(entry: SnapshotEntry, lookup: string | null): void {
    const held = this.byId.get(entry.id);
    if (held === undefined || (!(held instanceof Map) && held.tenant_id === entry.tenant_id)) {
      if (held) this.forget(held);
      this.byId.set(entry.id, entry);
    } else if (held instanceof Map) {
      const old = held.get(entry.tenant_id);
      if (old) this.forget(old);
      held.set(entry.tenant_id, entry);
    } else {
      this.byId.set(
        entry.id,
        new Map([
          [held.tenant_id, held],
          [entry.tenant_id, entry],
        ]),
      );
    }
    if (lookup) {
      this.byLookup.set(lookup, entry);
      this.lookupOf.set(entry, lookup);
    }
  }

  /** Removes every owner's entry of one id. */
  drop(id: string): void {
    const held = this.byId.get(id);
    if (held === undefined) return;
    if (held instanceof Map) for (const e of held.values()) this.forget(e);
    else this.forget(held);
    this.byId.delete(id);
  }

  *entries(): IterableIterator<SnapshotEntry> {
    for (const held of this.byId.values()) {
      if (held instanceof Map) yield* held.values();
      else yield held;
    }
  }

  /** Drops an entry's lookup value, unless another entry holds that value by now. */
  private forget(entry: SnapshotEntry): void {
    const value = this.lookupOf.get(entry);
    if (value === undefined) return;
    this.lookupOf.delete(entry);
    if (this.byLookup.get(value) === entry) this.byLookup.delete(value);
  }
}

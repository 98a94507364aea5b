import { hasTenantField, isNested } from '../server/resources/schemas';
import type { AdminClient } from './client';
import type { CtyValue } from './cty-codec';
import { collection as collectionPath, itemPath } from './operations';
import type { ResourceModel } from './schema';

type Obj = Record<string, CtyValue>;
type ApiObject = Record<string, unknown>;
interface Page {
  data: ApiObject[];
  next_cursor: string | null;
}

/** The largest page the list endpoints serve. */
const PAGE_LIMIT = 500;
/** A kind with more than this many pages is not listed further: the reads it did not reach are single GETs. */
const MAX_PAGES = 20;
/** A list older than this serves no more reads (a later read of the kind lists again). */
const LIST_TTL_MS = 60_000;

/** A resource's name within its collection: ids are unique per owner, so an owned kind's key carries the owner. */
function keyOf(model: ResourceModel, state: Obj | ApiObject): string {
  const owned = hasTenantField(model.def) && !isNested(model.def);
  return owned ? `${String(state.tenant_id ?? '')}/${String(state.id)}` : String(state.id);
}

interface Listing {
  at: number;
  items: Promise<Map<string, ApiObject>>;
}

/**
 * Refresh without a GET per resource (issue 13, item 18): once Terraform reads a second resource of one collection,
 * that collection is listed (every page, tenant-scoped as the token sees it) and the reads are served from the list.
 * It stays correct while Terraform and others write:
 * - an entry serves one read; reading the same resource again in this process is a GET;
 * - a resource this process writes (create, update, delete) is never served from a list again, even one in flight;
 * - a resource missing from the list (made after it, not visible in it, past its last page) is a GET, whose 404 says
 *   it is gone;
 * - a list serves reads for LIST_TTL_MS at most.
 * A change made out of band after the list and before Terraform reads that resource is seen by the next run, as it
 * would be had the single GET come a moment earlier.
 */
export class BulkReader {
  private readonly listings = new Map<string, Listing>();
  private readonly readsSeen = new Map<string, number>();
  private readonly written = new Set<string>();

  constructor(
    private readonly client: AdminClient,
    private readonly pageLimit = PAGE_LIMIT,
  ) {}

  /** The API's object for `prior`'s resource, or null when it is gone. */
  async read(model: ResourceModel, prior: Obj): Promise<ApiObject | null> {
    const listed = await this.fromList(model, prior);
    if (listed) return listed;
    const res = await this.client.request('GET', itemPath(model, prior));
    return res.status === 404 ? null : (res.body as ApiObject);
  }

  /** Marks a resource as written by this process: no list, even one fetched before the write, serves it again. */
  wrote(model: ResourceModel, state: Obj): void {
    const collection = collectionPath(model, state);
    const key = keyOf(model, state);
    this.written.add(`${collection} ${key}`);
    void this.listings
      .get(collection)
      ?.items.then((items) => items.delete(key))
      .catch(() => {});
  }

  private async fromList(model: ResourceModel, prior: Obj): Promise<ApiObject | undefined> {
    const collection = collectionPath(model, prior);
    const key = keyOf(model, prior);
    if (this.written.has(`${collection} ${key}`)) return undefined;
    const seen = (this.readsSeen.get(collection) ?? 0) + 1;
    this.readsSeen.set(collection, seen);
    // one resource of a kind is one GET: listing the kind would cost more
    if (seen < 2) return undefined;
    let listing = this.listings.get(collection);
    if (!listing || Date.now() - listing.at > LIST_TTL_MS) {
      listing = { at: Date.now(), items: this.list(model, collection) };
      this.listings.set(collection, listing);
    }
    let items: Map<string, ApiObject>;
    try {
      items = await listing.items;
    } catch {
      return undefined; // the single GET reports what is wrong, for this resource
    }
    const found = items.get(key);
    items.delete(key);
    // written while the list was in flight: the list may predate the write
    return found && !this.written.has(`${collection} ${key}`) ? found : undefined;
  }

  /** Every page of a collection (up to MAX_PAGES), by key; a collection that is gone (a nested kind's tenant) is empty. */
  private async list(model: ResourceModel, collection: string): Promise<Map<string, ApiObject>> {
    const items = new Map<string, ApiObject>();
    let cursor: string | null = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query: string = `?limit=${this.pageLimit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res: { status: number; body: Page } = await this.client.request<Page>('GET', collection + query);
      if (res.status === 404) break;
      for (const item of res.body.data) items.set(keyOf(model, item), item);
      cursor = res.body.next_cursor;
      if (!cursor) break;
    }
    return items;
  }
}

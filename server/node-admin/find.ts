import { ApiError } from '../errors';
import type { CallContext } from '../control/caller';
import type { PublicResource, ResourceService } from '../control/resource-service';
import type { ResourceDefinition } from '../resources/define';

/** Every resource of a kind the (platform) caller sees, page after page: seed 003 lists are bare arrays. */
export async function listAll(service: ResourceService, ctx: CallContext, def: ResourceDefinition) {
  const all: PublicResource[] = [];
  let cursor: string | undefined;
  do {
    const page = await service.list(ctx, def, { limit: 500, cursor });
    all.push(...(page.data as PublicResource[]));
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return all;
}

/** The resource under `id` (of `owner` when given), or undefined when there is none; other errors pass. */
export async function findById(
  service: ResourceService,
  ctx: CallContext,
  def: ResourceDefinition,
  id: string,
  owner?: string,
): Promise<PublicResource | undefined> {
  try {
    return await service.get(ctx, def, { id, owner });
  } catch (err) {
    if (err instanceof ApiError && err.code === 'NOT_FOUND') return undefined;
    throw err;
  }
}

/** Keeps the fields a definition accepts in a write (PUT replaces, so an upsert starts from the stored state). */
export function writableFields(def: ResourceDefinition, state: PublicResource): Record<string, unknown> {
  const fields = Object.keys(def.fields.shape);
  return Object.fromEntries(Object.entries(state).filter(([k]) => fields.includes(k)));
}

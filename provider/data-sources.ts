import { ApiFailure, type AdminClient } from './client';
import { UNKNOWN, type CtyValue } from './cty-codec';
import { stateOf, itemPath } from './operations';
import type { Problem } from './problems';
import type { ResourceModel } from './schema';

type Obj = Record<string, CtyValue>;

/** ValidateDataResourceConfig: a known id must be a non-empty string (an unknown one is read at apply). */
export function validateDataSourceConfig(model: ResourceModel, config: Obj | null): Problem[] {
  const id = config?.id;
  if (id === UNKNOWN || (typeof id === 'string' && id.trim() !== '')) return [];
  return [{ summary: `Invalid ${model.typeName} data source`, detail: 'id: must be a non-empty string', path: 'id' }];
}

/** ReadDataSource: a GET of the item; a missing one is an error naming kind and id, never an empty result. */
export async function readDataSource(client: AdminClient, model: ResourceModel, config: Obj): Promise<Obj> {
  const res = await client.request('GET', itemPath(model, config));
  if (res.status === 404) {
    const owner = typeof config.tenant_id === 'string' ? ` in tenant "${config.tenant_id}"` : '';
    throw new ApiFailure(404, 'NOT_FOUND', `No ${model.def.kind} with id "${String(config.id)}"${owner} exists.`);
  }
  return stateOf(model, res.body, null);
}

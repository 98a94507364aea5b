import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors';
import { hashToken } from '../lib/secrets';
import type { TenantState } from '../resources';
import { API_KEY_PREFIX } from '../resources/api-key';
import type { ConfigSnapshot } from '../store/snapshot';
import type { SnapshotApiKey } from '../store/snapshot-keys';

export interface KeyCaller {
  /** What the snapshot holds of the key: what authentication, limits and the mTLS binding read. */
  key: SnapshotApiKey;
  tenant: TenantState;
}

export { API_KEY_PREFIX };

export const missingKey = () =>
  new ApiError('INVALID_API_KEY', `Missing API key: send Authorization: Bearer ${API_KEY_PREFIX}…`);

/** The token of an `Authorization: Bearer …` header. */
export const bearerOf = (header: string | undefined): string | undefined =>
  header ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined;

/**
 * The API key a request presents, looked up in this order: `x-api-key`, then `Authorization: Bearer`. A header holding
 * a Portico key (`ptc_key_…`) wins over one that does not, so a request may carry its Portico key in one header and the
 * backend's own credential in the other (`x-api-key: ptc_key_…` beside `Authorization: Bearer <backend token>`).
 * Without a Portico key in either, it is whichever is present, so that an unknown key is refused by name.
 */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  const xApiKey = typeof header === 'string' ? header : undefined;
  if (xApiKey?.startsWith(API_KEY_PREFIX)) return xApiKey;
  const bearer = bearerOf(request.headers.authorization);
  return bearer?.startsWith(API_KEY_PREFIX) ? bearer : (xApiKey ?? bearer);
}

/**
 * Hashes of recently presented keys, so a busy key is not re-hashed on every request. Bounded: emptied when full.
 * It holds up to 10 000 presented keys in memory, as the process already holds opened provider credentials; a
 * revoked key's entry only maps to a hash the snapshot refuses.
 */
const hashes = new Map<string, string>();
const MAX_HASHES = 10_000;
/** Lookups answered from the map and those that had to hash, since the process started (`/admin/cache/stats`). */
const counts = { hits: 0, misses: 0 };

function hashOf(token: string): string {
  let h = hashes.get(token);
  if (h === undefined) {
    counts.misses++;
    if (hashes.size >= MAX_HASHES) hashes.clear();
    hashes.set(token, (h = hashToken(token)));
  } else counts.hits++;
  return h;
}

/** The key-validation cache of this process, as the node admin surface reports and clears it. */
export const keyHashCache = {
  stats: () => ({ hits: counts.hits, misses: counts.misses, entry_count: hashes.size }),
  clear: () => hashes.clear(),
};

/** Checks the request's API key against the in-memory snapshot (no database query): known, active, unexpired. */
export function authenticateKey(snapshot: ConfigSnapshot, request: FastifyRequest): KeyCaller {
  const token = presentedKey(request);
  if (!token) throw missingKey();
  const key = snapshot.lookup('api_key', hashOf(token));
  if (!key) throw new ApiError('INVALID_API_KEY', 'Unknown API key');
  if (key.status !== 'ACTIVE') throw new ApiError('INVALID_API_KEY', 'This API key was revoked');
  if (key.expires_at !== null && Date.parse(key.expires_at) <= Date.now())
    throw new ApiError('INVALID_API_KEY', 'This API key has expired');
  const tenant = snapshot.get('tenant', key.tenant_id, null);
  if (!tenant) throw new ApiError('INVALID_API_KEY', 'Unknown API key');
  if (tenant.status !== 'ACTIVE') throw new ApiError('TENANT_SUSPENDED', `Tenant "${tenant.id}" is suspended`);
  return { key, tenant };
}

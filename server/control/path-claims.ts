import { ApiError } from '../errors';
import type { ResourceDefinition } from '../resources/define';
import { valuesOfOthers } from '../store/resource-store';
import type { Tx } from '../store/schema';
import { lockUntilTransactionEnds } from '../store/transaction-lock';

/**
 * Path ownership (a definition's `claims`): a path prefix belongs to the owner of the resource holding it, a tenant or
 * the platform, so the data plane never hands one owner's traffic (its Authorization and Cookie headers included) to
 * another's backend.
 */

/**
 * One spelling per path, so a claim cannot be dodged by writing it another way: percent-encoded unreserved characters
 * and slashes decoded (`/%61pi` is `/api`), dot segments removed (`/x/../api`, `/%2e%2e/api`), trailing slashes dropped
 * (`/api/` is `/api`; `/` becomes '' and so claims every path).
 */
function canonical(path: string): string {
  const decoded = path.replace(/%([0-9a-fA-F]{2})/g, (escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~/]/.test(char) ? char : escape.toUpperCase();
  });
  const segments: string[] = [];
  for (const segment of decoded.split('/').slice(1)) {
    if (segment === '..') segments.pop();
    else if (segment !== '.') segments.push(segment);
  }
  return `/${segments.join('/')}`.replace(/\/+$/, '');
}

/** Whether two prefixes share a path: equal, or one under the other at a segment boundary (`/api`, `/api/v2`). */
export function pathsOverlap(a: string, b: string): boolean {
  const x = canonical(a);
  const y = canonical(b);
  return x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`);
}

/** A transaction lock per claiming kind, well apart from the audit chain's and the migrations' (7_351_220_9xx). */
function lockKey(kind: string): number {
  let hash = 0x811c9dc5; // FNV-1a, 32 bits
  for (let i = 0; i < kind.length; i++) hash = Math.imul(hash ^ kind.charCodeAt(i), 0x01000193) >>> 0;
  return 7_351_300_000_000 + hash;
}

/**
 * Serialises the writes of a claiming kind until the transaction ends, so two writers claiming overlapping paths
 * cannot both win. Taken first in every transaction that takes it (before row locks), so it adds no deadlock.
 */
export async function lockClaims(t: Tx, def: ResourceDefinition): Promise<void> {
  if (def.claims) await lockUntilTransactionEnds(t, lockKey(def.kind));
}

/**
 * Refuses (409, detail at the field) a claimed value that overlaps one of another owner, and (400) a tenant's claim of
 * the root. Checked when the value is
 * new (a create, or an update or rollback that changes it), so a path its owner already holds never blocks an edit.
 * The message names neither the other owner nor its resource.
 */
export async function assertClaimFree(
  t: Tx,
  def: ResourceDefinition,
  owner: string | null,
  fields: Record<string, unknown>,
  before?: Record<string, unknown>,
): Promise<void> {
  const field = def.claims?.field;
  const value = field === undefined ? undefined : fields[field];
  if (typeof value !== 'string' || (before && before[field!] === value)) return;
  // the root claims every path: a tenant holding it would lock every other owner out (the platform may)
  if (owner !== null && canonical(value) === '') {
    const message = "a tenant's path must have at least one segment (the root belongs to the platform)";
    throw new ApiError('VALIDATION_FAILED', 'The request is not valid', [{ path: field!, message }]);
  }
  const taken = await valuesOfOthers(t, def.kind, field!, owner);
  if (taken.some((other) => pathsOverlap(other.value, value))) {
    const message = `The path "${value}" overlaps one that is already claimed by another owner`;
    throw new ApiError('CONFLICT', message, [{ path: field!, message: 'is already claimed by another owner' }]);
  }
}

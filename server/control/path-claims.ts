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
  assertNotRoot(field!, owner, value);
  const taken = await valuesOfOthers(t, def.kind, field!, owner);
  if (taken.some((other) => pathsOverlap(other.value, value))) claimConflict(field!, value);
}

/** The root claims every path: a tenant holding it would lock every other owner out (the platform may). */
function assertNotRoot(field: string, owner: string | null, value: string): void {
  if (owner === null || canonical(value) !== '') return;
  const message = "a tenant's path must have at least one segment (the root belongs to the platform)";
  throw new ApiError('VALIDATION_FAILED', 'The request is not valid', [{ path: field, message }]);
}

function claimConflict(field: string, value: string): never {
  const message = `The path "${value}" overlaps one that is already claimed by another owner`;
  throw new ApiError('CONFLICT', message, [{ path: field, message: 'is already claimed by another owner' }]);
}

/** The prefixes strictly above a canonical path: `/a/b` has '' (the root) and `/a`. */
function ancestors(path: string): string[] {
  const segments = path.split('/');
  return segments.slice(1).map((_, i) => segments.slice(0, i + 1).join('/'));
}

/**
 * The claimed values of one kind, by canonical spelling, for checking many new claims in memory (config import):
 * each check looks up the path, its ancestors and the paths below it, rather than comparing with every claim.
 * Same rules and refusals as {@link assertClaimFree}.
 */
export class ClaimIndex {
  /** canonical path → the owners claiming exactly it ('' owner key: the platform) */
  private readonly exact = new Map<string, Set<string | null>>();
  /** canonical path → the owners claiming something strictly below it */
  private readonly below = new Map<string, Set<string | null>>();

  constructor(private readonly field: string) {}

  /** Records a value its owner holds (stored, or just checked). */
  add(owner: string | null, value: unknown): void {
    if (typeof value !== 'string') return;
    const path = canonical(value);
    addOwner(this.exact, path, owner);
    for (const above of ancestors(path)) addOwner(this.below, above, owner);
  }

  /** Refuses a new value overlapping another owner's, then records it as held. */
  claim(owner: string | null, fields: Record<string, unknown>): void {
    const value = fields[this.field];
    if (typeof value !== 'string') return;
    assertNotRoot(this.field, owner, value);
    const path = canonical(value);
    const others = (owners?: Set<string | null>) => owners !== undefined && (owners.size > 1 || !owners.has(owner));
    const overlaps =
      others(this.exact.get(path)) ||
      others(this.below.get(path)) ||
      ancestors(path).some((above) => others(this.exact.get(above)));
    if (overlaps) claimConflict(this.field, value);
    this.add(owner, value);
  }
}

function addOwner(map: Map<string, Set<string | null>>, path: string, owner: string | null): void {
  const owners = map.get(path);
  if (owners) owners.add(owner);
  else map.set(path, new Set([owner]));
}

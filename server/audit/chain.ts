import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../lib/canonical-json';

/**
 * The tamper-evident audit chain, as pure functions (the server and `portico audit verify` share them).
 * hash = SHA-256(prev_hash ‖ canonical JSON of the event body); signature = Ed25519 over the hash (hex text), made
 * at checkpoints: each append signs its last event (and the head), the events before it are {@link UNSIGNED} and
 * vouched for through the chain by that signature.
 */
export interface AuditEvent {
  id: string;
  seq: number;
  created_at: string;
  type: string;
  actor: { type: string; id: string; name: string };
  tenant_id: string | null;
  resource: { kind: string; id: string } | null;
  changes: unknown;
  trace_id: string | null;
  prev_hash: string;
  hash: string;
  signature: string;
}

export type AuditBody = Omit<AuditEvent, 'prev_hash' | 'hash' | 'signature'>;

export const GENESIS_HASH = '0'.repeat(64);

/** The signature of an event that a later checkpoint covers. */
export const UNSIGNED = '';

export function bodyOf(event: AuditEvent): AuditBody {
  const { id, seq, created_at, type, actor, tenant_id, resource, changes, trace_id } = event;
  return { id, seq, created_at, type, actor, tenant_id, resource, changes, trace_id };
}

export function chainHash(prevHash: string, body: AuditBody): string {
  return createHash('sha256').update(prevHash).update(canonicalJson(body)).digest('hex');
}

export function signHash(privateKey: KeyObject, hash: string): string {
  return sign(null, Buffer.from(hash), privateKey).toString('base64');
}

export function publicKeyFromPem(pem: string): KeyObject {
  return createPublicKey(pem);
}

/** The chain's head: its newest event's seq and hash, signed apart from any event (see `headMessage`). */
export interface AuditHead {
  seq: number;
  hash: string;
  signature: string;
}

/** What a head signature covers: text no event hash can be, so an event's signature never passes for a head's. */
const headMessage = (seq: number, hash: string) => Buffer.from(`audit-head ${seq} ${hash}`);

export function signHead(privateKey: KeyObject, seq: number, hash: string): AuditHead {
  return { seq, hash, signature: sign(null, headMessage(seq, hash), privateKey).toString('base64') };
}

export interface VerifyResult {
  valid: boolean;
  /** Events vouched for: each signed, or covered through the chain by a later signature or the signed head. */
  checked: number;
  /** The first event not vouched for (an unsigned event before a break is vouched for only through it). */
  first_invalid_seq: number | null;
  /** Failures: the event whose check failed (its hash, link, signature, or the seq that is missing). */
  broken_at_seq?: number;
  reason?: string;
}

/** Where a walk along the chain got to: a failure, or the events vouched for and those still waiting for a signature. */
interface Walk {
  failed?: VerifyResult;
  checked: number;
  /** Unsigned events after the last signature: vouched for only if the signed head covers them. */
  pending: AuditEvent[];
}

/**
 * A failure at `seq` with `pending` events before it: none of them is vouched for (their only signature is reached
 * through the event that broke), so the first of them is the first invalid one.
 */
function failure(checked: number, pending: readonly AuditEvent[], seq: number, reason: string): VerifyResult {
  const first = Math.min(seq, pending[0]?.seq ?? seq);
  const before = first === seq - 1 ? `seq ${first} was` : `seq ${first} to ${seq - 1} were`;
  const through = first < seq ? `; ${before} covered only through it` : '';
  return {
    valid: false,
    checked,
    first_invalid_seq: first,
    broken_at_seq: seq,
    reason: `seq ${seq}: ${reason}${through}`,
  };
}

/**
 * Checks events in ascending `seq` order: links, hashes, and signatures where an event has one. With `contiguous`, the
 * events must be the whole chain from seq 1 (a missing row is reported at the seq that should have been there);
 * without it (a filtered export), links are checked wherever neighbours are both present, and an unsigned event needs
 * its chain up to the next signed event in the file.
 */
function walk(events: AuditEvent[], publicKey: KeyObject, contiguous: boolean): Walk {
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  let prev: AuditEvent | undefined;
  let checked = 0;
  let pending: AuditEvent[] = [];
  const fail = (seq: number, reason: string): Walk => ({
    failed: failure(checked, pending, seq, reason),
    checked,
    pending,
  });
  for (const event of sorted) {
    const expectedSeq = prev ? prev.seq + 1 : 1;
    if (contiguous && event.seq !== expectedSeq)
      return fail(Math.min(expectedSeq, event.seq), 'sequence gap or duplicate');
    const linked = prev && prev.seq + 1 === event.seq;
    if (!linked && pending.length) return fail(prev!.seq + 1, 'missing from the file');
    const expectedPrev = linked ? prev!.hash : !prev && event.seq === 1 ? GENESIS_HASH : undefined;
    if (expectedPrev !== undefined && event.prev_hash !== expectedPrev)
      return fail(event.seq, 'prev_hash does not match the previous event');
    if (chainHash(event.prev_hash, bodyOf(event)) !== event.hash)
      return fail(event.seq, 'hash does not match the event');
    if (event.signature === UNSIGNED) pending.push(event);
    else if (!signedBy(publicKey, Buffer.from(event.hash), event.signature))
      return fail(event.seq, 'signature is not valid');
    else {
      checked += pending.length + 1;
      pending = [];
    }
    prev = event;
  }
  return { checked, pending };
}

/** The events on their own (an export file): every unsigned event must be covered by a later signed one. */
export function verifyChain(events: AuditEvent[], publicKey: KeyObject, contiguous: boolean): VerifyResult {
  const { failed, checked, pending } = walk(events, publicKey, contiguous);
  if (failed) return failed;
  if (pending.length) {
    const after = pending[pending.length - 1]!.seq + 1;
    return failure(checked, pending, after, 'missing from the file (no signed event covers the events before it)');
  }
  return { valid: true, checked, first_invalid_seq: null };
}

/**
 * The whole chain against its signed head: the walk in contiguous mode, then the head must be genuine and name the
 * last event (it also vouches for unsigned events at the end). Newest events deleted (or a head rewound to an older,
 * once genuine state by someone who kept a copy of it, which only a copy of the head kept elsewhere can catch) are
 * found at the first missing seq.
 */
export function verifyWithHead(events: AuditEvent[], head: AuditHead | undefined, publicKey: KeyObject): VerifyResult {
  const { failed, checked, pending } = walk(events, publicKey, true);
  if (failed) return failed;
  // a whole chain that walked runs from seq 1 without gaps: its last event has seq = the count
  const lastSeq = checked + pending.length;
  const last = events.find((e) => e.seq === lastSeq);
  const fail = (seq: number, reason: string) => failure(checked, pending, seq, reason);
  if (!head)
    return last ? fail(lastSeq + 1, 'the chain has no head') : { valid: true, checked, first_invalid_seq: null };
  // without a genuine head, what follows the last signed event cannot be vouched for
  if (!signedBy(publicKey, headMessage(head.seq, head.hash), head.signature))
    return fail(lastSeq + 1, 'the head signature is not valid');
  if (head.seq > lastSeq) return fail(lastSeq + 1, `missing (the head is at ${head.seq})`);
  if (head.seq < lastSeq) return fail(head.seq + 1, 'after the head');
  if (head.hash !== last!.hash) return fail(lastSeq, 'the head does not name this event');
  return { valid: true, checked: lastSeq, first_invalid_seq: null };
}

/** Whether `signature` (base64) is the key's Ed25519 signature of `message`; a malformed signature is not. */
function signedBy(publicKey: KeyObject, message: Buffer, signature: string): boolean {
  try {
    return verify(null, message, publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

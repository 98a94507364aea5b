import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../lib/canonical-json';

/**
 * The tamper-evident audit chain, as pure functions (the server and `portico audit verify` share them).
 * hash = SHA-256(prev_hash ‖ canonical JSON of the event body); signature = Ed25519 over the hash (hex text), for
 * every event; the head (newest seq and hash) is signed apart, so deleting the newest events is found too.
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
  /** Events that verified, from the oldest up to the first that did not. */
  checked: number;
  first_invalid_seq: number | null;
  /** Why the first invalid event failed (its hash, link, signature, or a seq that is missing). */
  reason?: string;
}

const failure = (checked: number, seq: number, reason: string): VerifyResult => ({
  valid: false,
  checked,
  first_invalid_seq: seq,
  reason: `seq ${seq}: ${reason}`,
});

/**
 * Checks events in ascending `seq` order: each one's link, hash and signature. With `contiguous`, the events must be
 * the whole chain from seq 1 (a missing row is reported at the seq that should have been there); without it (a
 * filtered export), links are checked wherever neighbours are both present.
 */
export function verifyChain(events: AuditEvent[], publicKey: KeyObject, contiguous: boolean): VerifyResult {
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  let prev: AuditEvent | undefined;
  let checked = 0;
  for (const event of sorted) {
    const expectedSeq = prev ? prev.seq + 1 : 1;
    if (contiguous && event.seq !== expectedSeq)
      return failure(checked, Math.min(expectedSeq, event.seq), 'sequence gap or duplicate');
    const linked = prev && prev.seq + 1 === event.seq;
    const expectedPrev = linked ? prev!.hash : !prev && event.seq === 1 ? GENESIS_HASH : undefined;
    if (expectedPrev !== undefined && event.prev_hash !== expectedPrev)
      return failure(checked, event.seq, 'prev_hash does not match the previous event');
    if (chainHash(event.prev_hash, bodyOf(event)) !== event.hash)
      return failure(checked, event.seq, 'hash does not match the event');
    if (!signedBy(publicKey, Buffer.from(event.hash), event.signature))
      return failure(checked, event.seq, 'signature is not valid');
    checked += 1;
    prev = event;
  }
  return { valid: true, checked, first_invalid_seq: null };
}

/**
 * The whole chain against its signed head: every event checked in contiguous mode, then the head must be genuine and
 * name the last event. Newest events deleted (or a head rewound to an older, once genuine state by someone who kept a
 * copy of it, which only a copy of the head kept elsewhere can catch) are found at the first missing seq.
 */
export function verifyWithHead(events: AuditEvent[], head: AuditHead | undefined, publicKey: KeyObject): VerifyResult {
  const walked = verifyChain(events, publicKey, true);
  if (!walked.valid) return walked;
  // a whole chain that verified runs from seq 1 without gaps: its last event has seq = the count
  const lastSeq = walked.checked;
  const fail = (seq: number, reason: string) => failure(seq - 1, seq, reason);
  if (!head) return lastSeq ? fail(lastSeq + 1, 'the chain has no head') : walked;
  if (!signedBy(publicKey, headMessage(head.seq, head.hash), head.signature))
    return fail(lastSeq + 1, 'the head signature is not valid');
  if (head.seq > lastSeq) return fail(lastSeq + 1, `missing (the head is at ${head.seq})`);
  if (head.seq < lastSeq) return fail(head.seq + 1, 'after the head');
  if (head.hash !== events.find((e) => e.seq === lastSeq)!.hash)
    return fail(lastSeq, 'the head does not name this event');
  return walked;
}

/** Whether `signature` (base64) is the key's Ed25519 signature of `message`; a malformed signature is not. */
function signedBy(publicKey: KeyObject, message: Buffer, signature: string): boolean {
  try {
    return verify(null, message, publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../lib/canonical-json';

/**
 * The tamper-evident audit chain, as pure functions (the server and `portico audit verify` share them).
 * hash = SHA-256(prev_hash ‖ canonical JSON of the event body); signature = Ed25519 over the hash (hex text).
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

export interface VerifyResult {
  valid: boolean;
  checked: number;
  first_invalid_seq: number | null;
  reason?: string;
}

/**
 * Checks events in ascending `seq` order. With `contiguous`, the events must be the whole chain from seq 1 (a missing
 * row is reported at the seq that should have been there); without it (a filtered export), each event is checked on
 * its own and links are checked wherever neighbours are both present.
 */
export function verifyChain(events: AuditEvent[], publicKey: KeyObject, contiguous: boolean): VerifyResult {
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  let prev: AuditEvent | undefined;
  let checked = 0;
  const fail = (seq: number, reason: string): VerifyResult => ({ valid: false, checked, first_invalid_seq: seq, reason });
  for (const event of sorted) {
    const expectedSeq = prev ? prev.seq + 1 : 1;
    if (contiguous && event.seq !== expectedSeq) return fail(Math.min(expectedSeq, event.seq), 'sequence gap or duplicate');
    const linked = prev && prev.seq + 1 === event.seq;
    const expectedPrev = linked ? prev!.hash : !prev && event.seq === 1 ? GENESIS_HASH : undefined;
    if (expectedPrev !== undefined && event.prev_hash !== expectedPrev) return fail(event.seq, 'prev_hash does not match the previous event');
    if (chainHash(event.prev_hash, bodyOf(event)) !== event.hash) return fail(event.seq, 'hash does not match the event');
    let signed = false;
    try {
      signed = verify(null, Buffer.from(event.hash), publicKey, Buffer.from(event.signature, 'base64'));
    } catch {
      signed = false;
    }
    if (!signed) return fail(event.seq, 'signature is not valid');
    checked++;
    prev = event;
  }
  return { valid: true, checked, first_invalid_seq: null };
}

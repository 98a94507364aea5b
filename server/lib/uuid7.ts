import { randomUUID } from 'node:crypto';

/**
 * A UUIDv7 (RFC 9562): the Unix time in milliseconds in its first 48 bits, then random bits. Ids made later sort
 * later, so rows keyed by them are appended at the right edge of their index instead of at random places in it.
 * The random part comes from a v4 UUID, whose variant bits are already the ones v7 wants.
 */
export function uuid7(now = Date.now()): string {
  const t = now.toString(16).padStart(12, '0');
  const r = randomUUID();
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${r.slice(15)}`;
}

import { randomUUID } from 'node:crypto';

let lastMs = -1;
let lastPrefix = '';

/**
 * A UUIDv7 (RFC 9562): the Unix time in milliseconds in its first 48 bits, then random bits. Ids made later sort
 * later, so rows keyed by them are appended at the right edge of their index instead of at random places in it.
 * The random part comes from a v4 UUID, whose variant bits are already the ones v7 wants; the time part is
 * formatted once per millisecond.
 */
export function uuid7(now = Date.now()): string {
  if (now !== lastMs) {
    const t = now.toString(16).padStart(12, '0');
    [lastMs, lastPrefix] = [now, `${t.slice(0, 8)}-${t.slice(8, 12)}-7`];
  }
  return lastPrefix + randomUUID().slice(15);
}

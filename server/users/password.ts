import { randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify<string, Buffer, number, ScryptOptions, Buffer>(scrypt);

/**
 * Password hashing with scrypt (node:crypto), salted. The stored form carries its parameters, so they can be raised
 * later without breaking old hashes: `scrypt$<N>$<r>$<p>$<salt>$<hash>` (salt and hash base64url).
 */
const N = 16384;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;
// scrypt needs 128 * N * r bytes; leave room above the default 32 MiB limit for raised parameters
const MAX_MEMORY = 64 * 1024 * 1024;

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, KEY_LENGTH, { N, r: R, p: P, maxmem: MAX_MEMORY });
  return ['scrypt', N, R, P, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/**
 * A stored hash that no password matches (random bytes where the hash goes), with the parameters hashPassword
 * uses: checking a password against it costs what checking a real one does. Made without running scrypt, so
 * loading the module that keeps one costs nothing.
 */
export function unmatchableHash(): string {
  return ['scrypt', N, R, P, randomBytes(16).toString('base64url'), randomBytes(KEY_LENGTH).toString('base64url')].join(
    '$',
  );
}

/**
 * True when `password` matches the stored hash; false for a wrong password or a stored value that is not a hash.
 * Asynchronous (the thread pool), so sign-in attempts do not stall the event loop.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const params = { N: Number(n), r: Number(r), p: Number(p), maxmem: MAX_MEMORY };
  if (![params.N, params.r, params.p].every((x) => Number.isInteger(x) && x > 0)) return false;
  // parameters scrypt refuses (a damaged stored value) verify nothing rather than throw
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, params).catch(() => null);
  return actual !== null && actual.length === expected.length && timingSafeEqual(actual, expected);
}

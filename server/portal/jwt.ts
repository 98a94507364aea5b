import { sign, verify, type KeyObject } from 'node:crypto';

/**
 * Compact JWTs signed with EdDSA (Ed25519), with node:crypto. (`jose` 6 is ESM-only, which the CommonJS test runner
 * cannot load; what a portal token needs is this much.) Verification accepts `alg: EdDSA` only, so neither
 * `alg: none` nor an HMAC-with-the-public-key confusion gets through, and strict base64url only, so a token has one
 * encoding.
 */

export interface JwtClaims {
  sub: string;
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  [claim: string]: unknown;
}

const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function decode(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function signJwt(claims: JwtClaims, key: KeyObject): string {
  const input = `${encode({ alg: 'EdDSA', typ: 'JWT' })}.${encode(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}

/** The claims of a token signed by `key`, issued for `audience` by `issuer` and not expired; otherwise undefined. */
export function verifyJwt(
  token: string,
  key: KeyObject,
  expect: { issuer: string; audience: string },
  nowSecs = Math.floor(Date.now() / 1000),
): JwtClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p))) return undefined;
  const [head, body, signature] = parts as [string, string, string];
  if (decode(head)?.alg !== 'EdDSA') return undefined;
  if (!verify(null, Buffer.from(`${head}.${body}`), key, Buffer.from(signature, 'base64url'))) return undefined;
  const claims = decode(body);
  if (!claims || typeof claims.sub !== 'string' || typeof claims.exp !== 'number' || typeof claims.iat !== 'number')
    return undefined;
  if (claims.iss !== expect.issuer || claims.aud !== expect.audience || claims.exp <= nowSecs) return undefined;
  return claims as JwtClaims;
}

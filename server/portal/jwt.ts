import type { KeyObject } from 'node:crypto';

/**
 * Portal session JWTs with `jose` (its CommonJS build): EdDSA (Ed25519) only. Verification pins the algorithm, so
 * neither `alg: none` nor an HMAC keyed with the public key gets through, and requires `sub`, `iat`, `exp` and
 * `tenant`.
 */

export const JWT_ALGORITHM = 'EdDSA';

/** jose, loaded on the first session rather than at every start (a node that serves no portal never needs it). */
const jose = () => import('jose');
/** Seconds of clock skew allowed on `exp` between the instance that signed a token and the one reading it. */
export const CLOCK_TOLERANCE_SECS = 2;

/** The claims a session carries besides the registered ones: the user's tenant and the password fingerprint. */
export interface SessionClaims {
  sub: string;
  tenant: string;
  pwv: string;
}

export interface JwtAudience {
  issuer: string;
  audience: string;
}

/** A token for `claims`, issued now and valid for `ttlSecs`. */
export async function signJwt(
  claims: SessionClaims,
  key: KeyObject,
  on: JwtAudience & { ttlSecs: number },
): Promise<string> {
  const { SignJWT } = await jose();
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({ tenant: claims.tenant, pwv: claims.pwv })
    .setProtectedHeader({ alg: JWT_ALGORITHM, typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(on.issuer)
    .setAudience(on.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + on.ttlSecs)
    .sign(key);
}

/** The claims of a token signed by `key` for `audience` by `issuer` and not expired; undefined for any other token. */
export async function verifyJwt(
  token: string,
  key: KeyObject,
  expect: JwtAudience,
): Promise<SessionClaims | undefined> {
  const { errors, jwtVerify } = await jose();
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: [JWT_ALGORITHM],
      issuer: expect.issuer,
      audience: expect.audience,
      clockTolerance: CLOCK_TOLERANCE_SECS,
      requiredClaims: ['sub', 'iat', 'exp', 'tenant'],
    });
    const { sub, tenant, pwv } = payload;
    if (typeof sub !== 'string' || typeof tenant !== 'string' || typeof pwv !== 'string') return undefined;
    return { sub, tenant, pwv };
  } catch (err) {
    // a bad token is just not a session; anything else (a key of the wrong type) is a fault to see
    if (err instanceof errors.JOSEError) return undefined;
    throw err;
  }
}

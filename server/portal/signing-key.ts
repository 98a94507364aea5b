import { createPublicKey, type KeyObject } from 'node:crypto';
import { loadSealedEd25519Key } from '../keys';
import type { Db } from '../store/schema';

export interface PortalSigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/**
 * The Ed25519 key portal JWTs are signed with (EdDSA): made on first start and kept in the settings table encrypted
 * under the master key, exactly as the audit signing key is, so every instance on the database signs and verifies
 * with the same key and a database dump alone does not let anyone mint sessions.
 */
export async function loadPortalSigningKey(db: Db, masterKey: Buffer): Promise<PortalSigningKey> {
  const privateKey = await loadSealedEd25519Key(db, masterKey, 'portal_jwt_signing_key');
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

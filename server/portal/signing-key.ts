import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ConfigError } from '../config';
import { decryptSecret, encryptSecret } from '../lib/secrets';
import type { Db } from '../store/schema';
import { getOrCreateSetting } from '../store/settings';

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
  const { value } = await getOrCreateSetting(db, 'portal_jwt_signing_key', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    return encryptSecret(masterKey, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  });
  let pem: string;
  try {
    pem = decryptSecret(masterKey, value);
  } catch {
    throw new ConfigError('PORTICO_MASTER_KEY', 'does not decrypt the secrets in this database (was it changed?)');
  }
  const privateKey = createPrivateKey(pem);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

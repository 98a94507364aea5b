import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, parseMasterKey, type Config } from './config';
import { decryptSecret, encryptSecret, generateToken, hashToken } from './lib/secrets';
import type { Db } from './store/schema';
import { getOrCreateSetting } from './store/settings';

export interface Keys {
  /** AES-256-GCM key for secrets at rest. */
  masterKey: Buffer;
  auditSigningKey: KeyObject;
  auditPublicKeyPem: string;
}

const isMemory = (dir: string) => dir === 'memory://';

function writePrivateFile(path: string, content: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** The master key: from PORTICO_MASTER_KEY, else (embedded mode) `$PORTICO_DATA_DIR/master-key`, made on first start. */
export function loadMasterKey(config: Config): Buffer {
  if (config.masterKey) return config.masterKey;
  if (config.databaseUrl) throw new ConfigError('PORTICO_MASTER_KEY', 'is required with DATABASE_URL');
  if (isMemory(config.dataDir)) return randomBytes(32);
  const file = join(config.dataDir, 'master-key');
  if (!existsSync(file)) writePrivateFile(file, randomBytes(32).toString('base64') + '\n');
  return parseMasterKey(readFileSync(file, 'utf8'), `PORTICO_MASTER_KEY (from ${file})`);
}

/**
 * An Ed25519 private key kept in the settings table under `name`, encrypted under the master key: made on first
 * start, so every instance on the database signs with the same key and a database dump alone gives it to nobody.
 */
export async function loadSealedEd25519Key(db: Db, masterKey: Buffer, name: string): Promise<KeyObject> {
  const { value } = await getOrCreateSetting(db, name, () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    return encryptSecret(masterKey, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  });
  let pem: string;
  try {
    pem = decryptSecret(masterKey, value);
  } catch {
    throw new ConfigError('PORTICO_MASTER_KEY', 'does not decrypt the secrets in this database (was it changed?)');
  }
  return createPrivateKey(pem);
}

/** Loads (or on first start creates) the Ed25519 audit signing key, stored encrypted under the master key. */
export async function loadKeys(config: Config, db: Db): Promise<Keys> {
  const masterKey = loadMasterKey(config);
  const auditSigningKey = await loadSealedEd25519Key(db, masterKey, 'audit_signing_key');
  const auditPublicKeyPem = createPublicKey(auditSigningKey).export({ type: 'spki', format: 'pem' }).toString();
  return { masterKey, auditSigningKey, auditPublicKeyPem };
}

/**
 * The bootstrap owner token's hash. With PORTICO_ADMIN_TOKEN, that token; otherwise one generated on the first start,
 * returned in `shownOnce` (and written to `$PORTICO_DATA_DIR/admin-token` in embedded mode) and never again.
 */
export async function loadBootstrapToken(config: Config, db: Db): Promise<{ hash: string; shownOnce?: string }> {
  if (config.adminToken) return { hash: hashToken(config.adminToken) };
  let token: string | undefined;
  const { value, created } = await getOrCreateSetting(db, 'bootstrap_token_hash', () =>
    hashToken((token = generateToken('ptc_pat_'))),
  );
  if (!created || !token) return { hash: value };
  if (!config.databaseUrl && !isMemory(config.dataDir))
    writePrivateFile(join(config.dataDir, 'admin-token'), token + '\n');
  return { hash: value, shownOnce: token };
}

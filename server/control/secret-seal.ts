import type { FieldChanges } from '../lib/diff';
import { encryptSecret, generateToken, hashToken } from '../lib/secrets';
import type { ResourceDefinition } from '../resources/define';
import { hashPassword } from '../users/password';

/** A new or rotated secret as it is kept: stored columns, public fields, and what to show the caller once. */
export interface Sealed {
  secret: string;
  lookup: string | null;
  data: Record<string, unknown>;
  shown: Record<string, string>;
}

/**
 * Seals a secret by the definition's rule: a generated one (keys, tokens) is kept as a hash and shown once; a given
 * one (credentials, webhook secrets) is encrypted under the master key. Undefined when there is nothing to seal.
 */
export function sealSecret(def: ResourceDefinition, given: unknown, masterKey: Buffer): Sealed | undefined {
  const rule = def.secret;
  if (!rule) return undefined;
  if (rule.mode === 'generated') {
    const token = generateToken(rule.prefix);
    const hash = hashToken(token);
    const data = rule.prefixField ? { [rule.prefixField]: token.slice(0, rule.prefix.length + 8) } : {};
    return { secret: hash, lookup: hash, data, shown: { [rule.field]: token } };
  }
  if (given === undefined && !rule.generatePrefix) return undefined;
  const value = typeof given === 'string' ? given : generateToken(rule.generatePrefix!);
  const data: Record<string, unknown> = {};
  if (rule.setField) data[rule.setField] = true;
  if (rule.last4Field) data[rule.last4Field] = value.slice(-4);
  const shown = given === undefined || rule.showOnCreate ? { [rule.field]: value } : {};
  return { secret: rule.hashed ? hashPassword(value) : encryptSecret(masterKey, value), lookup: null, data, shown };
}

/** The public fields of a resource created without its optional secret (a user imported without a password). */
export const noSecretYet = (def: ResourceDefinition): Record<string, unknown> =>
  def.secret?.mode === 'encrypted' && def.secret.setField ? { [def.secret.setField]: false } : {};

/** The audit changes of a write, noting (never showing) a new secret. */
export const withSecretChange = (def: ResourceDefinition, changes: FieldChanges, rotated: boolean): FieldChanges =>
  rotated && def.secret ? { ...changes, [def.secret.field]: { from: '***', to: '***' } } : changes;

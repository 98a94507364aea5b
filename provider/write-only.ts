import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { isUnknown, type CtyValue } from './cty-codec';
import { secretToSend } from './operations';
import type { Problem } from './problems';
import type { ResourceModel } from './schema';

type Obj = Record<string, CtyValue>;

/**
 * Noticing a changed write-only secret. Terraform keeps write-only values out of state and prior state, so the plan
 * cannot compare them; what the provider can keep is its private state (bytes Terraform stores with the resource and
 * hands back on the next plan). After sending a secret it keeps a salted scrypt hash of it there, never the value: a
 * later plan hashes the configured secret with the same salt and, when it differs while `<secret>_wo_version` stays,
 * warns that the new value will not be sent. With no private state (an import, a state from an older provider) the
 * provider cannot know, and says nothing.
 */
interface SecretRecord {
  /** What the provider last sent: a salted hash, or null when it sent none (the server made one). */
  sent: { salt: string; scrypt: string } | null;
}

const SCRYPT = { N: 16384, r: 8, p: 1 };
/** Asynchronous, off the event loop: Terraform plans many resources at once. */
const hashOf = (secret: string, salt: Buffer) =>
  new Promise<Buffer>((resolve, reject) =>
    scrypt(secret, salt, 32, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))),
  );

/** The private state to keep after a write that sent `secret` (null: sent none). */
async function secretRecord(secret: string | null): Promise<Buffer> {
  if (secret === null) return Buffer.from(JSON.stringify({ sent: null } satisfies SecretRecord));
  const salt = randomBytes(16);
  const record: SecretRecord = {
    sent: { salt: salt.toString('base64'), scrypt: (await hashOf(secret, salt)).toString('base64') },
  };
  return Buffer.from(JSON.stringify(record));
}

function readRecord(bytes: Uint8Array | undefined): SecretRecord | undefined {
  if (!bytes?.length) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<SecretRecord>;
    return 'sent' in parsed ? (parsed as SecretRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** True when `secret` is not what the record says was sent. */
async function differs(record: SecretRecord, secret: string): Promise<boolean> {
  if (record.sent === null) return true;
  const expected = Buffer.from(record.sent.scrypt, 'base64');
  return !timingSafeEqual(await hashOf(secret, Buffer.from(record.sent.salt, 'base64')), expected);
}

/** PlanResourceChange: a warning when the configured write-only secret changed but its version did not. */
export async function unsentSecretWarning(
  model: ResourceModel,
  prior: Obj | null,
  config: Obj | null,
  priorPrivate: Uint8Array | undefined,
): Promise<Problem[]> {
  const secretAttr = model.attributes.find((a) => a.writeOnly);
  const versionAttr = model.attributes.find((a) => a.role === 'secret-version');
  if (!prior || !config || !secretAttr || !versionAttr) return [];
  const secret = config[secretAttr.name];
  if (typeof secret !== 'string' || isUnknown(config[versionAttr.name])) return [];
  if ((config[versionAttr.name] ?? null) !== (prior[versionAttr.name] ?? null)) return []; // a rotation sends it
  const record = readRecord(priorPrivate);
  if (!record || !(await differs(record, secret))) return [];
  return [
    {
      warning: true,
      summary: `${secretAttr.name} changed but ${versionAttr.name} did not`,
      detail:
        `Terraform does not keep write-only values, so only a new ${versionAttr.name} sends ${secretAttr.name} ` +
        `again: this plan leaves the stored secret as it is. Change ${versionAttr.name} to send the new value.`,
      path: secretAttr.name,
    },
  ];
}

/** ApplyResourceChange: the private state to keep, a record of the secret sent, or the planned one when none was. */
export async function privateAfterWrite(
  model: ResourceModel,
  prior: Obj | null,
  planned: Obj,
  config: Obj,
  plannedPrivate: Uint8Array | undefined,
): Promise<Buffer> {
  if (!model.attributes.some((a) => a.writeOnly)) return Buffer.alloc(0);
  const sent = secretToSend(model, prior, planned, config);
  if (sent !== null || prior === null) return secretRecord(sent);
  return Buffer.from(plannedPrivate ?? []);
}

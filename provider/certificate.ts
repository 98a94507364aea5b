import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import {
  bitString,
  boolean,
  explicit,
  implicitPrimitive,
  objectId,
  octetString,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from './der';

export interface PluginCertificate {
  certPem: string;
  keyPem: string;
  /** DER bytes, base64 without padding: what the go-plugin handshake line carries. */
  derBase64: string;
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

/** keyUsage bits digitalSignature (0), keyEncipherment (2) and keyCertSign (5): 1010 0100, the last 2 bits unused. */
const KEY_USAGE = bitString(Buffer.from([0xa4]), 2);

const attribute = (oid: string, value: string) => set(sequence(objectId(oid), utf8String(value)));
const extension = (oid: string, critical: boolean, value: Buffer) =>
  critical ? sequence(objectId(oid), boolean(true), octetString(value)) : sequence(objectId(oid), octetString(value));

const pem = (label: string, der: Buffer) =>
  `-----BEGIN ${label}-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trim()}\n-----END ${label}-----\n`;

/**
 * The server certificate go-plugin's AutoMTLS expects: self-signed ECDSA P-256, SAN `localhost`, usable as a CA and
 * for both server and client auth, valid from 30 s ago (clock skew) for a year. Written with node:crypto and our own
 * DER encoder, so a provider start loads no certificate library.
 */
export function makePluginCertificate(now = Date.now()): PluginCertificate {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serial = randomBytes(8);
  serial[0] = (serial[0]! & 0x3f) | 0x40; // positive, 8 bytes long
  const signatureAlgorithm = sequence(objectId(OID.ecdsaWithSha256));
  const name = sequence(attribute(OID.organization, 'HashiCorp'), attribute(OID.commonName, 'localhost'));
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(serial),
    signatureAlgorithm,
    name, // issuer: self-signed
    sequence(time(new Date(now - 30_000)), time(new Date(now + 365 * 24 * 3600_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(
      3,
      sequence(
        extension(OID.basicConstraints, true, sequence(boolean(true))),
        extension(OID.keyUsage, true, KEY_USAGE),
        extension(OID.extKeyUsage, false, sequence(objectId(OID.serverAuth), objectId(OID.clientAuth))),
        extension(OID.subjectAltName, false, sequence(implicitPrimitive(2, Buffer.from('localhost', 'ascii')))),
      ),
    ),
  );
  // node:crypto signs EC keys as a DER ECDSA-Sig-Value, the form X.509's signatureValue carries.
  const der = sequence(tbs, signatureAlgorithm, bitString(sign('sha256', tbs, privateKey)));
  return {
    certPem: pem('CERTIFICATE', der),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    derBase64: der.toString('base64').replace(/=+$/, ''),
  };
}

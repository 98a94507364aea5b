import { generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import {
  bitString,
  boolean,
  explicit,
  implicitPrimitive,
  objectId,
  octetString,
  sequence,
  set,
  time,
  unsignedInteger,
  utf8String,
} from '../../provider/der';

/**
 * A small certificate authority for the mTLS suites, written with node:crypto and the provider's own DER encoder:
 * ECDSA P-256 certificates made fresh in each run, so no key or certificate file comes from anywhere else.
 */
export interface Issued {
  certPem: string;
  keyPem: string;
  cert: X509Certificate;
  key: KeyObject;
  /** The subject name, DER: a certificate this one issues names it as its issuer. */
  name: Buffer;
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};
const DAY = 24 * 3600_000;

const extension = (oid: string, critical: boolean, value: Buffer) =>
  critical ? sequence(objectId(oid), boolean(true), octetString(value)) : sequence(objectId(oid), octetString(value));
const pem = (der: Buffer) =>
  `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trim()}\n-----END CERTIFICATE-----\n`;

interface Options {
  /** Who signs it; none: self-signed. */
  issuer?: Issued;
  ca?: boolean;
  notBefore?: number;
  notAfter?: number;
}

function certificate(commonName: string, { issuer, ca = false, notBefore, notAfter }: Options): Issued {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serial = randomBytes(8);
  serial[0] = (serial[0]! & 0x3f) | 0x40;
  const algorithm = sequence(objectId(OID.ecdsaWithSha256));
  const name = sequence(set(sequence(objectId(OID.commonName), utf8String(commonName))));
  const now = Date.now();
  const extensions = ca
    ? [
        extension(OID.basicConstraints, true, sequence(boolean(true))),
        extension(OID.keyUsage, true, bitString(Buffer.from([0x06]), 1)), // keyCertSign, cRLSign
      ]
    : [
        extension(OID.basicConstraints, true, sequence()),
        extension(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7)), // digitalSignature
        extension(OID.extKeyUsage, false, sequence(objectId(OID.serverAuth), objectId(OID.clientAuth))),
        extension(
          OID.subjectAltName,
          false,
          sequence(implicitPrimitive(2, Buffer.from('localhost')), implicitPrimitive(7, Buffer.from([127, 0, 0, 1]))),
        ),
      ];
  const tbs = sequence(
    explicit(0, unsignedInteger(Buffer.from([2]))),
    unsignedInteger(serial),
    algorithm,
    issuer?.name ?? name,
    sequence(time(new Date(notBefore ?? now - 60_000)), time(new Date(notAfter ?? now + 30 * DAY))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...extensions)),
  );
  const der = sequence(tbs, algorithm, bitString(sign('sha256', tbs, issuer?.key ?? privateKey)));
  return {
    certPem: pem(der),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: new X509Certificate(der),
    key: privateKey,
    name,
  };
}

export const makeCa = (commonName: string): Issued => certificate(commonName, { ca: true });

/** A certificate for a server (SAN localhost and 127.0.0.1) or a client, signed by `ca`. */
export const issue = (ca: Issued, commonName: string, options: Omit<Options, 'issuer' | 'ca'> = {}): Issued =>
  certificate(commonName, { ...options, issuer: ca });

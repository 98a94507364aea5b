import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);

export interface PluginCertificate {
  certPem: string;
  keyPem: string;
  /** DER bytes, base64 without padding: what the go-plugin handshake line carries. */
  derBase64: string;
}

/**
 * The server certificate go-plugin's AutoMTLS expects: self-signed ECDSA P-256, SAN `localhost`, usable as a CA and
 * for both server and client auth, valid from 30 s ago (clock skew) for a year.
 */
export async function makePluginCertificate(): Promise<PluginCertificate> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8)))
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    name: 'CN=localhost, O=HashiCorp',
    notBefore: new Date(now - 30_000),
    notAfter: new Date(now + 365 * 24 * 3600_000),
    keys: keys as never,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyCertSign,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }]),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trim()}\n-----END PRIVATE KEY-----\n`;
  return {
    certPem: cert.toString('pem'),
    keyPem,
    derBase64: Buffer.from(cert.rawData).toString('base64').replace(/=+$/, ''),
  };
}

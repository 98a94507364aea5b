import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseRanges, type IpRange } from '../policies/ip-ranges';
import { parseCidr } from '../policies/types';

/**
 * The data plane's TLS and client-certificate settings (PORTICO_DATA_TLS_*): a server certificate makes the data port
 * serve HTTPS; a client CA bundle makes it ask for and verify client certificates; trusted proxies may pass a client
 * certificate they verified in a header instead (TLS ended at the proxy).
 */
export interface DataTlsSettings {
  /** Certificate chain and key of the data port; unset: plain HTTP. */
  server?: { cert: string; key: PrivatePem };
  /** The CAs a client certificate must chain to, as PEM text (for node's TLS) and parsed (for header certificates). */
  clientCa?: { pem: string; certs: X509Certificate[] };
  /** Refuse requests without a verified client certificate. */
  requireClientCert: boolean;
  /** Addresses that may pass a client certificate in {@link certHeader}; from anyone else the header is dropped. */
  trustedProxies: IpRange[];
  /** Lower-case header name carrying a URL-encoded PEM client certificate (from a trusted proxy). */
  certHeader: string;
}

/** A private key that never shows in a log line, a JSON body or an inspected object: only `reveal()` gives it. */
export class PrivatePem {
  readonly #pem: string;
  constructor(pem: string) {
    this.#pem = pem;
  }
  reveal(): string {
    return this.#pem;
  }
  toJSON(): string {
    return '[redacted]';
  }
}

export const NO_DATA_TLS: DataTlsSettings = {
  requireClientCert: false,
  trustedProxies: [],
  certHeader: 'x-client-cert',
};

/** Reports a bad setting by variable; the caller turns it into its own error type. */
type Fail = (variable: string, message: string) => never;

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Inline PEM (a value holding `-----BEGIN`, where `\n` may stand for line breaks) or a path to a PEM file. */
function pemSetting(env: NodeJS.ProcessEnv, variable: string, fail: Fail): string | undefined {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') return undefined;
  if (raw.includes('-----BEGIN')) return raw.includes('\n') ? raw : raw.replace(/\\n/g, '\n');
  try {
    return readFileSync(raw.trim(), 'utf8');
  } catch (err) {
    // the path is not a secret; the file's content is never quoted
    return fail(variable, `cannot read the file "${raw.trim()}" (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Every certificate of a PEM bundle, parsed; none is an error. */
function certificates(pem: string, variable: string, fail: Fail): X509Certificate[] {
  const blocks = pem.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) fail(variable, 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      return fail(variable, `certificate ${i + 1} of the bundle is not a valid X.509 certificate`);
    }
  });
}

function privateKey(pem: string, variable: string, fail: Fail): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    return fail(variable, 'is not a PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1)');
  }
}

function flag(env: NodeJS.ProcessEnv, variable: string, fail: Fail): boolean {
  const raw = (env[variable] ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  return fail(variable, `must be true or false, got "${env[variable]}"`);
}

function proxies(env: NodeJS.ProcessEnv, variable: string, fail: Fail): IpRange[] {
  const entries = (env[variable] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of entries)
    if (!parseCidr(entry)) fail(variable, `"${entry}" is not an IP address or CIDR range (10.0.0.0/8, ::1)`);
  return parseRanges(entries);
}

/** Reads and checks the data plane's TLS settings; a bad one is reported through `fail`, naming its variable. */
export function parseDataTlsSettings(env: NodeJS.ProcessEnv, fail: Fail): DataTlsSettings {
  const certPem = pemSetting(env, 'PORTICO_DATA_TLS_CERT', fail);
  const keyPem = pemSetting(env, 'PORTICO_DATA_TLS_KEY', fail);
  if (!certPem !== !keyPem) {
    const missing = certPem ? 'PORTICO_DATA_TLS_KEY' : 'PORTICO_DATA_TLS_CERT';
    fail(missing, 'is required when the other of PORTICO_DATA_TLS_CERT and PORTICO_DATA_TLS_KEY is set');
  }
  let server: DataTlsSettings['server'];
  if (certPem && keyPem) {
    const [leaf] = certificates(certPem, 'PORTICO_DATA_TLS_CERT', fail);
    const key = privateKey(keyPem, 'PORTICO_DATA_TLS_KEY', fail);
    if (!leaf!.checkPrivateKey(key))
      fail('PORTICO_DATA_TLS_KEY', 'does not belong to the first certificate of PORTICO_DATA_TLS_CERT');
    server = { cert: certPem, key: new PrivatePem(keyPem) };
  }
  const caPem = pemSetting(env, 'PORTICO_DATA_TLS_CLIENT_CA', fail);
  const clientCa = caPem ? { pem: caPem, certs: certificates(caPem, 'PORTICO_DATA_TLS_CLIENT_CA', fail) } : undefined;
  const trustedProxies = proxies(env, 'PORTICO_DATA_TLS_TRUSTED_PROXIES', fail);
  const certHeader = (env.PORTICO_DATA_TLS_CERT_HEADER || 'x-client-cert').trim().toLowerCase();
  if (!/^[a-z0-9][a-z0-9-]*$/.test(certHeader))
    fail('PORTICO_DATA_TLS_CERT_HEADER', `must be a header name, got "${env.PORTICO_DATA_TLS_CERT_HEADER}"`);
  const requireClientCert = flag(env, 'PORTICO_DATA_TLS_REQUIRE_CLIENT_CERT', fail);
  // a client certificate reaches the gateway over its own TLS (needs a server certificate and a CA) or in a header
  const directClients = !!server && !!clientCa;
  if (requireClientCert && !directClients && trustedProxies.length === 0) {
    const needs = 'PORTICO_DATA_TLS_CERT, _KEY and _CLIENT_CA, or PORTICO_DATA_TLS_TRUSTED_PROXIES';
    fail('PORTICO_DATA_TLS_REQUIRE_CLIENT_CERT', `needs a way to receive client certificates: ${needs}`);
  }
  if (clientCa && !server && trustedProxies.length === 0)
    fail(
      'PORTICO_DATA_TLS_CLIENT_CA',
      'needs PORTICO_DATA_TLS_CERT and _KEY (HTTPS) or PORTICO_DATA_TLS_TRUSTED_PROXIES',
    );
  return { server, clientCa, requireClientCert, trustedProxies, certHeader };
}

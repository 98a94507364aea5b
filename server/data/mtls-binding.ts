import { ApiError } from '../errors';
import type { SnapshotApiKey } from '../store/snapshot-keys';
import type { ClientCert } from './mtls';

/** The key metadata entry that binds an API key to client certificates: SHA-256 fingerprints, comma-separated. */
export const CERT_BINDING_METADATA = 'client_cert_sha256';

/** `AB:CD:…` or `abcd…`, as `openssl x509 -fingerprint -sha256` or a hash tool prints it. */
const normalised = (fingerprint: string) => fingerprint.replace(/[\s:]/g, '').toLowerCase();

/**
 * A key bound to client certificates serves only requests that present one of them (verified by the data port or a
 * trusted proxy): a stolen key is of no use without the certificate's private key. Unbound keys are unaffected.
 */
export function checkCertBinding(key: SnapshotApiKey, cert: ClientCert | undefined): void {
  const bound = key.metadata[CERT_BINDING_METADATA];
  if (bound === undefined) return;
  const allowed = bound.split(',').map(normalised).filter(Boolean);
  if (!cert)
    throw new ApiError('CLIENT_CERT_REQUIRED', 'This API key is bound to a client certificate, and none was presented');
  if (!allowed.includes(cert.sha256))
    throw new ApiError('CLIENT_CERT_MISMATCH', 'This API key is bound to another client certificate');
}

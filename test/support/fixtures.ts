import { randomBytes } from 'node:crypto';
import { until, type TestGateway } from './gateway';

/**
 * Per-test data for the proxy suites: a tenant with an API key, and optionally a credential and a route of its own,
 * created through the admin API under ids no other test uses, so a test never depends on what an earlier one made.
 */

let counter = 0;

/** A slug no other call returns (within a run, and across runs sharing a database): `acme-7-1f3a9c`. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${++counter}-${randomBytes(3).toString('hex')}`;
}

/** POSTs `body` to the admin API and returns the created resource; anything but a 201 fails with the answer. */
export async function created(t: TestGateway, path: string, body: Record<string, unknown>): Promise<any> {
  const res = await t.api('POST', path, body);
  if (res.status !== 201) throw new Error(`POST ${path} answered ${res.status}: ${res.text}`);
  return res.body;
}

/** Waits until the data plane's configuration snapshot holds the resource (live propagation). */
export function inSnapshot(t: TestGateway, kind: string, id: string): Promise<void> {
  return until(() => !!t.gateway.snapshot.get(kind, id));
}

/** A route (global when `tenantId` is null) under a fresh id unless the body names one, once the data plane has it. */
export async function createRoute(
  t: TestGateway,
  tenantId: string | null,
  body: Record<string, unknown>,
): Promise<any> {
  const route = await created(t, '/v1/admin/routes', {
    id: uniqueId('route'),
    ...(tenantId ? { tenant_id: tenantId } : {}),
    ...body,
  });
  await inSnapshot(t, 'route', route.id);
  return route;
}

/** An API key of the tenant, with its plaintext `key`, once the data plane accepts it. */
export async function createKey(t: TestGateway, tenantId: string, body: Record<string, unknown> = {}): Promise<any> {
  const key = await created(t, `/v1/admin/tenants/${tenantId}/keys`, { name: 'test key', ...body });
  await inSnapshot(t, 'api_key', key.id);
  return key;
}

/** A provider credential of the tenant (global when null) holding `secret`, once the data plane has it. */
export async function createCredential(
  t: TestGateway,
  tenantId: string | null,
  provider: string,
  secret: string,
): Promise<any> {
  const credential = await created(t, '/v1/admin/credentials', {
    id: uniqueId('cred'),
    ...(tenantId ? { tenant_id: tenantId } : {}),
    provider,
    api_key: secret,
  });
  await inSnapshot(t, 'credential', credential.id);
  return credential;
}

export interface TenantOptions {
  /** Extra tenant fields (name, metadata…). */
  tenant?: Record<string, unknown>;
  /** Extra fields of its API key (rate_limit_tier, expires_at…). */
  key?: Record<string, unknown>;
  /** A credential of the tenant for this provider (`openai`), with a secret unique to the tenant. */
  credential?: string;
  /** A route of the tenant: an LLM route (`model_pattern`, `providers`) or an HTTP one (`path_prefix`, `backend_url`). */
  route?: Record<string, unknown>;
}

export interface TenantSetup {
  tenantId: string;
  keyId: string;
  /** The key's plaintext, as a data-plane caller sends it. */
  key: string;
  credentialId?: string;
  /** The credential's plaintext: what the upstream must receive, and nothing else may show. */
  credentialSecret?: string;
  routeId?: string;
}

/** A fresh tenant with a key (and a credential and a route when asked for), all in the data plane's snapshot. */
export async function setupTenant(t: TestGateway, options: TenantOptions = {}): Promise<TenantSetup> {
  const tenantId = uniqueId('tenant');
  await created(t, '/v1/admin/tenants', { id: tenantId, name: tenantId, ...options.tenant });
  await inSnapshot(t, 'tenant', tenantId);
  const key = await createKey(t, tenantId, options.key);
  const setup: TenantSetup = { tenantId, keyId: key.id, key: key.key };
  if (options.credential) {
    setup.credentialSecret = `sk-${tenantId}-${randomBytes(8).toString('hex')}`;
    setup.credentialId = (await createCredential(t, tenantId, options.credential, setup.credentialSecret)).id;
  }
  if (options.route) setup.routeId = (await createRoute(t, tenantId, options.route)).id;
  return setup;
}

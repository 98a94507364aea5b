import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { AdminRateLimit } from '../control/admin-rate-limit';
import { authenticate, bearerToken } from '../control/authenticate';
import type { MtlsGate } from '../data/mtls';
import { ApiError } from '../errors';
import type { Gateway } from '../gateway';

const config = z.object({
  enabled: z.boolean().describe('Whether client certificates are checked: a client CA bundle or trusted proxies.'),
  require_client_cert: z.boolean().describe('Whether a request without a verified client certificate is refused.'),
  trusted_proxies: z
    .string()
    .describe('"[redacted]" when proxies may pass a client certificate in a header, "[]" when none may.'),
});
const stats = z.object({
  total_requests: z.number().int().describe('Requests checked since this node started (probes and /admin/* are not).'),
  cert_validated: z
    .number()
    .int()
    .describe('Of those, with a verified certificate (over TLS or from a trusted proxy).'),
  cert_missing: z.number().int().describe('Of those, without a certificate.'),
  cert_invalid: z.number().int().describe('Of those, with a certificate that did not verify.'),
});

/**
 * The node admin API's rule, until the rest of `/admin/*` shares it: 503 when the node has no admin token
 * configured (PORTICO_ADMIN_TOKEN), else the owner token or a platform role's token (401 without a valid one, 403
 * for a tenant role's), rate-limited per caller like the admin API.
 */
function nodeAdminAuth(gw: Gateway) {
  const limit = new AdminRateLimit(gw.config.adminRateLimit);
  return async (request: { headers: { authorization?: string }; ip: string }) => {
    if (!gw.config.adminToken)
      throw new ApiError('NOT_READY', 'The node admin API is disabled: PORTICO_ADMIN_TOKEN is not set on this node');
    const token = bearerToken(request.headers.authorization);
    const caller = token ? await authenticate(gw, token) : undefined;
    limit.check(caller ? `token:${caller.id}` : `ip:${request.ip}`);
    if (!caller)
      throw new ApiError(
        'UNAUTHORIZED',
        token ? 'The bearer token is not valid, revoked or expired' : 'Missing Authorization: Bearer <token> header',
      );
    if (caller.tenantId !== null)
      throw new ApiError('FORBIDDEN', "The node admin API needs the owner token or a platform role's token");
  };
}

/**
 * `GET /admin/mtls/config` and `GET /admin/mtls/stats` (seed 003's shapes), registered with the prefix `/admin/mtls`
 * on the data port: what this node's client-certificate check is set to, and what it has counted since it started.
 */
export const mtlsAdminRoutes: FastifyPluginAsync<{ gw: Gateway; mtls: MtlsGate }> = async (app, { gw, mtls }) => {
  app.addHook('onRequest', nodeAdminAuth(gw));
  const tags = ['Node admin'];
  app.get('/config', { schema: { summary: 'mTLS configuration', tags, response: { 200: config } } }, async () => ({
    enabled: mtls.enabled,
    require_client_cert: mtls.settings.requireClientCert,
    // the addresses say where the gateway sits in the network: not for an API answer
    trusted_proxies: mtls.settings.trustedProxies.length > 0 ? '[redacted]' : '[]',
  }));
  app.get('/stats', { schema: { summary: 'mTLS statistics', tags, response: { 200: stats } } }, async () => ({
    total_requests: mtls.stats.total,
    cert_validated: mtls.stats.validated,
    cert_missing: mtls.stats.missing,
    cert_invalid: mtls.stats.invalid,
  }));
};

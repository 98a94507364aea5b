import { z } from 'zod';
import type { Gateway } from '../gateway';
import { routePlugin } from '../http/route-plugin';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import { mtlsGateOf } from '../data/mtls';

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
 * `GET /admin/mtls/config` and `GET /admin/mtls/stats` (seed 003's shapes): what this node's client-certificate check
 * of its data port is set to, and what it has counted since it started. Served with the rest of `/admin/*`, under its
 * authentication, wherever that is; the gate is looked up per request, since the data port may start after the admin
 * port. A node without a data plane (`PORTICO_ROLE=control`) checks no certificate: disabled, nothing counted.
 */
export const mtlsRoutes = routePlugin<{ gw: Gateway }>(
  'portico-node-admin-mtls',
  [ZOD_SCHEMAS],
  async (app, { gw }) => {
    const tags = ['mTLS'];
    app.get(
      '/mtls/config',
      { schema: { summary: 'mTLS configuration', tags, response: { 200: config } } },
      async () => {
        const gate = mtlsGateOf(gw);
        return {
          enabled: gate?.enabled ?? false,
          require_client_cert: gate?.settings.requireClientCert ?? false,
          // the addresses say where the gateway sits in the network: not for an API answer
          trusted_proxies: gate && gate.settings.trustedProxies.length > 0 ? '[redacted]' : '[]',
        };
      },
    );
    app.get('/mtls/stats', { schema: { summary: 'mTLS statistics', tags, response: { 200: stats } } }, async () => {
      const counted = mtlsGateOf(gw)?.stats;
      return {
        total_requests: counted?.total ?? 0,
        cert_validated: counted?.validated ?? 0,
        cert_missing: counted?.missing ?? 0,
        cert_invalid: counted?.invalid ?? 0,
      };
    });
  },
);

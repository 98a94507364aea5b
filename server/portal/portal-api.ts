import type { FastifyInstance, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { build, type DocumentedRoute } from '../control/openapi';
import type { ResourceService } from '../control/resource-service';
import type { Gateway } from '../gateway';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import { authRoutes } from './auth-routes';
import { MailDispatcher } from './mail/outbox';
import { LogMailSender, SmtpMailSender } from './mail/senders';
import { PortalResources } from './resource-access';
import { portalReadoutRoutes } from './readouts/routes';
import { PortalSessions, portalTenant } from './session';
import { loadPortalSigningKey } from './signing-key';
import { tenantRoutes } from './tenant-routes';

export interface PortalOptions {
  gw: Gateway;
  service: ResourceService;
}

/** Collects the portal's documented routes and serves them as `/api/openapi.json`. */
function portalDocument(api: FastifyInstance, version: string): void {
  const routes: DocumentedRoute[] = [];
  api.addHook('onRoute', (route: RouteOptions) => {
    if (!route.schema?.summary) return;
    for (const method of ([] as string[]).concat(route.method))
      if (method !== 'HEAD') routes.push({ method: method.toLowerCase(), url: route.url, schema: route.schema });
  });
  let doc: Record<string, any> | undefined;
  api.get('/openapi.json', async () => {
    if (doc) return doc;
    const base = build(routes, { title: 'Portico tenant portal API', version }) as Record<string, any>;
    const portalJwt = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' };
    doc = {
      ...base,
      security: [{ portalJwt: [] }],
      components: { ...base.components, securitySchemes: { portalJwt } },
    };
    return doc;
  });
}

/**
 * The tenant portal, `/api/*` on the admin port (seed 004): sign-up and sessions (`/api/auth/*`) and a tenant's own
 * routes, services and consumers (`/api/tenants/:tenantId/*`). It accepts portal JWTs only (never a PAT), and the
 * admin API never accepts a portal JWT. `portalSessions` is decorated on the app, for `portalTenant` (session.ts).
 */
export const portalApi = fp<PortalOptions & { version: string }>(
  async (app, { gw, service, version }) => {
    const key = await loadPortalSigningKey(gw.db, gw.keys.masterKey);
    const sessions = new PortalSessions(gw, key, service.scope);
    app.decorate('portalSessions', sessions);
    const { smtpUrl, mailFrom } = gw.config.portal;
    const sender = smtpUrl ? await SmtpMailSender.open(smtpUrl, mailFrom) : new LogMailSender(gw.log);
    const mail = new MailDispatcher(gw.db, gw.keys.masterKey, sender, gw.log);
    app.decorate('portalMail', mail);
    mail.start();
    app.addHook('onClose', () => mail.stop());
    const portal = new PortalResources(service);
    app.register(
      async (api) => {
        portalDocument(api, version);
        api.register(authRoutes, { gw, service, sessions, mail });
        api.register(tenantRoutes, { prefix: '/tenants/:tenantId', sessions, portal });
        // the read-outs (logs, errors, health, metrics, gateway-status), on the same session and tenant check
        api.register(portalReadoutRoutes, {
          gw,
          tenantOf: (req) => portalTenant(req, (req.params as { tenantId: string }).tenantId),
        });
      },
      { prefix: '/api' },
    );
  },
  { name: 'portico-portal', dependencies: [ZOD_SCHEMAS] },
);

declare module 'fastify' {
  interface FastifyInstance {
    portalMail?: MailDispatcher;
  }
}

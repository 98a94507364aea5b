import { z } from 'zod';
import { routePlugin } from '../http/route-plugin';
import { ZOD_SCHEMAS } from '../http/route-schemas';
import { ROLES, token } from '../resources/token';
import { BEARER_AUTH } from './authenticate';
import { PERMISSIONS } from './permissions';
import { callContext } from './request-state';

const access = z.enum(['none', 'read', 'write']);
const whoami = z.object({
  type: z.enum(['token', 'cli', 'system', 'user']).describe('`user` for an email and password sign-in.'),
  id: z.string().describe('The token id (`bootstrap` for the owner token), or the user id.'),
  name: z.string(),
  role: z.enum(ROLES),
  tenant_id: z.string().nullable().describe('Set for tenant roles: the only tenant the caller sees.'),
  permissions: z.record(z.string(), access).describe("The caller's access per area of the permission matrix."),
});

/**
 * `GET /whoami`: the caller's identity and what its role allows, so a client (the console, a script) can show only
 * what the caller may do. The API still decides every call; this only describes.
 */
export const whoamiRoutes = routePlugin('portico-whoami-routes', [ZOD_SCHEMAS, BEARER_AUTH], async (app) => {
  app.get(
    '/whoami',
    {
      schema: {
        summary: "The caller's token, role, tenant and permissions",
        tags: [token.plural],
        response: { 200: whoami },
      },
    },
    async (req) => {
      const { caller } = callContext(req);
      const { type, id, name, role, tenantId } = caller;
      return { type, id, name, role, tenant_id: tenantId, permissions: PERMISSIONS[role] };
    },
  );
});

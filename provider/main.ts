import { servePlugin } from './plugin-host';

/**
 * terraform-provider-portico: what Terraform launches. The provider's handlers (zod, the resource registry) load
 * after the handshake line, while Terraform connects.
 */
servePlugin(() => import('./provider-service').then((m) => m.providerService())).catch((err) => {
  process.stderr.write(`terraform-provider-portico: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

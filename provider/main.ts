import { servePlugin } from './plugin-host';
import { providerService } from './provider-service';

/** terraform-provider-portico: what Terraform launches. */
servePlugin(providerService()).catch((err) => {
  process.stderr.write(`terraform-provider-portico: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

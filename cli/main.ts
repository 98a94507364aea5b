import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ApiError } from '../server/errors';
import type { AuditEvent } from '../server/audit/chain';

// Commands load what they need when they run, so `portico plan` does not start by loading the whole server. (`require`:
// this file runs as CommonJS under tsx, where a dynamic import() would go through Node's own ESM resolver.)
const lazy = <T>(load: () => T) => Promise.resolve().then(load);
const serverApp = () => lazy(() => require('../server/app') as typeof import('../server/app'));
const serverConfig = () => lazy(() => require('../server/config') as typeof import('../server/config'));
const serverCluster = () => lazy(() => require('../server/cluster') as typeof import('../server/cluster'));
const USAGE = `Usage: portico <command>

  serve                          run the gateway (what npm start does)
  plan <input> [--mode merge|replace] [--tenant T] [--json]
                                 show what applying <input> would change: a config document (JSON or YAML), a
                                 directory of them, or a synthesized CDKTF stack (cdktf.out/stacks/<name>/cdk.tf.json).
                                 Exit 0 no changes, 2 changes, 1 error
  apply <input> [--mode merge|replace] [--tenant T] [--yes]
                                 show the plan, ask (unless --yes), then apply it in one transaction
  export [--tenant T] [--format json|yaml] [-o file]
                                 write the configuration document
  import <file> [--mode merge|replace] [--dry-run]
                                 the import endpoint as is; prints its JSON answer
                                 (plan, apply, export, import: --endpoint / PORTICO_ENDPOINT, --token / PORTICO_TOKEN)
  audit verify --file F --public-key K [--full]
                                 verify an exported audit JSON file offline (--full: the file is the whole
                                 chain, so a missing event is an error, not a filtered-out one)
  provider install [--dev]       put the Terraform provider in Terraform's local plugin mirror (--dev: a dev_overrides config)
  token create --name N --role R [--tenant-id T] [--expires-at ISO]
                                 create an admin token directly in the database (recovery, automation bootstrap)
  pglite-image [file]            write the embedded database's starting image (default dist/pglite-image.tar;
                                 npm ci does this, so a new data dir starts without initdb)
`;

/** `--name value` pairs after the command words. */
export function flags(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(args[i]!);
    if (!m) throw new Error(`unexpected argument "${args[i]}"`);
    out[m[1]!] = m[2] ?? args[++i] ?? '';
  }
  return out;
}

async function serve(): Promise<void> {
  const { startServer } = await serverApp();
  const { loadConfig } = await serverConfig();
  // from the end of Node's own bootstrap: finding, compiling and running this command's code and the server's
  const modulesMs = performance.now() - performance.nodeTiming.bootstrapComplete;
  const config = loadConfig();
  // PORTICO_WORKERS > 1: this process is the primary, or one of the data-plane workers it forks (server/cluster/)
  const cluster = config.workers > 1 ? await serverCluster() : undefined;
  if (cluster?.isWorkerProcess()) return cluster.runWorker(config);
  const failed = (err: Error) => void stop(err);
  const server = cluster ? await cluster.startPrimary(config, failed) : await startServer(config);
  const { gateway } = server;
  if (gateway.bootstrapTokenShownOnce) {
    const where =
      gateway.config.databaseUrl || gateway.config.dataDir === 'memory://'
        ? ''
        : ` (also in ${gateway.config.dataDir}/admin-token)`;
    process.stdout.write(`\nPortico admin token, shown once${where}:\n  ${gateway.bootstrapTokenShownOnce}\n\n`);
  }
  const startup_ms = { modules: Math.round(modulesMs), total: Math.round(performance.now()) };
  const runtime = __filename.endsWith('.cjs') ? 'compiled' : 'tsx'; // dist/portico.cjs, or this file through tsx
  gateway.log.info(
    {
      admin: server.adminUrl,
      data: server.dataUrl,
      workers: config.workers,
      database: gateway.dialect,
      runtime,
      startup_ms,
    },
    'portico is serving',
  );
  process.emit('portico:serving' as never); // scripts/load-bundle.js keeps the code V8 compiled for the next start
  // the first signal stops within PORTICO_SHUTDOWN_GRACE_MS (unwritten records go to the spool); a second ends at once
  let stopping = false;
  async function stop(failure?: Error) {
    if (stopping) process.exit(1);
    stopping = true;
    // with workers, theirs come first: each has the grace, then the primary's own planes stop
    setTimeout(() => process.exit(1), (cluster ? 2 : 1) * (gateway.config.shutdownGraceMs + 2000)).unref();
    await server.close().catch((err) => gateway.log.error({ err }, 'stop failed'));
    (gateway.log as unknown as { flush?: () => void }).flush?.();
    process.exit(failure ? 1 : 0);
  }
  process.on('SIGINT', () => stop());
  process.on('SIGTERM', () => stop());
}

async function auditVerify(args: string[]): Promise<number> {
  const { publicKeyFromPem, verifyChain } = await lazy(
    () => require('../server/audit/chain') as typeof import('../server/audit/chain'),
  );
  const full = args.includes('--full');
  const f = flags(args.filter((a) => a !== '--full'));
  if (!f.file || !f['public-key']) throw new Error('audit verify needs --file and --public-key');
  const events = JSON.parse(readFileSync(f.file, 'utf8')) as AuditEvent[];
  if (!Array.isArray(events)) throw new Error(`${f.file} is not a JSON array of audit events`);
  const result = verifyChain(events, publicKeyFromPem(readFileSync(f['public-key'], 'utf8')), full);
  process.stdout.write(JSON.stringify(result) + '\n');
  return result.valid ? 0 : 1;
}

async function tokenCreate(args: string[]): Promise<number> {
  const f = flags(args);
  const { openGateway } = await serverApp();
  const { loadConfig } = await serverConfig();
  const { ResourceService } = await lazy(
    () => require('../server/control/resource-service') as typeof import('../server/control/resource-service'),
  );
  const { token: tokenDef } = await lazy(() => require('../server/resources') as typeof import('../server/resources'));
  const gw = await openGateway(loadConfig({ ...process.env, PORTICO_LOG_LEVEL: 'silent' }));
  try {
    const service = new ResourceService(gw);
    const caller = {
      type: 'cli' as const,
      id: 'portico-cli',
      name: 'portico token create',
      role: 'owner' as const,
      tenantId: null,
    };
    const body = {
      name: f.name,
      role: f.role,
      ...(f['tenant-id'] ? { tenant_id: f['tenant-id'] } : {}),
      ...(f['expires-at'] ? { expires_at: f['expires-at'] } : {}),
    };
    const created = await service.create({ caller }, tokenDef, body);
    process.stdout.write(JSON.stringify(created, null, 2) + '\n');
    return 0;
  } finally {
    await gw.close();
  }
}

async function providerInstall(args: string[]): Promise<number> {
  const { installDev, installToMirror, INSTALL_HINT_HCL, PROVIDER_VERSION } = await lazy(
    () => require('../provider/install') as typeof import('../provider/install'),
  );
  if (args.includes('--dev')) {
    const { dir, config } = await installDev();
    process.stdout.write(
      `Built the provider into ${dir}.\nTo use it without \`terraform init\`:\n  export TF_CLI_CONFIG_FILE=${config}\n`,
    );
  } else {
    const dir = await installToMirror();
    process.stdout.write(
      `Installed portico/portico ${PROVIDER_VERSION} into ${dir}.\nUse it with:\n\n${INSTALL_HINT_HCL}\nthen \`terraform init\` (no network needed).\n`,
    );
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  if (command === 'serve') return serve().then(() => -1);
  if (command === 'plan' || command === 'apply' || command === 'export' || command === 'import') {
    const commands = await lazy(() => require('./config-commands') as typeof import('./config-commands'));
    return commands[`${command}Command`](argv.slice(1));
  }
  if (command === 'audit' && sub === 'verify') return auditVerify(rest);
  if (command === 'token' && sub === 'create') return tokenCreate(rest);
  if (command === 'provider' && sub === 'install') return providerInstall(rest);
  if (command === 'pglite-image') {
    const { writePgliteImage } = await lazy(
      () => require('../server/store/pglite-image') as typeof import('../server/store/pglite-image'),
    );
    process.stdout.write(`Wrote the embedded database's starting image to ${await writePgliteImage(sub)}\n`);
    return 0;
  }
  process.stderr.write(USAGE);
  return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  async (err: unknown) => {
    const { ConfigError } = await serverConfig();
    if (err instanceof ConfigError) process.stderr.write(`portico: bad setting ${err.message}\n`);
    else if (err instanceof ApiError)
      process.stderr.write(
        `portico: ${err.message}${err.details.map((d) => `\n  ${d.path}: ${d.message}`).join('')}\n`,
      );
    else process.stderr.write(`portico: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

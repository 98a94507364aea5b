import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE } from './handshake';

const ROOT = join(__dirname, '..');
export const PROVIDER_VERSION: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
export const BINARY = 'terraform-provider-portico';

/** Terraform's platform name for this machine (`linux_amd64`). */
export function platform(): string {
  const arch = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm' }[process.arch as string] ?? process.arch;
  return `${process.platform}_${arch}`;
}

/** The files beside the launcher; `.cjs` so no package.json near them can make Node read them as ES modules. */
const ENTRY = 'start.cjs';
const BUNDLE = 'provider.cjs';
const SERVICE_BUNDLE = 'provider-service.cjs';

/**
 * The esbuild plugin that swaps proto-descriptor.ts for its result: the bundle carries the parsed .proto files as
 * JSON, so a start neither reads nor parses them (and the protobufjs parser stays out of the bundle).
 */
async function precompiledProtos(): Promise<import('esbuild').Plugin> {
  // require, not import(): installed as a dependency (node_modules/portico), tsx leaves a dynamic import() of a
  // relative .ts path to Node's own resolver, which does not find it
  const { protoDescriptor, PROTO_FILES } = require('./proto-descriptor') as typeof import('./proto-descriptor');
  const json = JSON.stringify(protoDescriptor());
  return {
    name: 'precompiled-protos',
    setup(build) {
      build.onLoad({ filter: /[\\/]provider[\\/]proto-descriptor\.ts$/ }, () => ({
        loader: 'js',
        // JSON.parse of a string is quicker for V8 than the same object as a literal
        contents: `exports.PROTO_FILES = ${JSON.stringify(PROTO_FILES)};
exports.protoDescriptor = () => JSON.parse(${JSON.stringify(json)});`,
      }));
    },
  };
}

/**
 * The esbuild plugin that leaves main.ts's lazy `import('./provider-service')` to a second bundle, required when it
 * runs: Node then compiles the provider's handlers, zod and the registry after the handshake, not before it.
 */
const separateService: import('esbuild').Plugin = {
  name: 'separate-service',
  setup(build) {
    build.onResolve({ filter: /^\.\/provider-service$/ }, () => ({ path: SERVICE_BUNDLE, namespace: 'service' }));
    build.onLoad({ filter: /.*/, namespace: 'service' }, () => ({
      loader: 'js',
      contents: `module.exports = require('./${SERVICE_BUNDLE}');`,
    }));
    build.onResolve({ filter: new RegExp(`^\\./${SERVICE_BUNDLE}$`) }, (args) => ({ path: args.path, external: true }));
  },
};

/**
 * Bundles the provider into `dir`: two bundles (every dependency inside) and the executable Terraform runs, a small
 * sh launcher that starts them with the Node that installed it, else the `node` on PATH, else says what is missing.
 */
export async function buildProvider(dir: string, options: { node?: string } = {}): Promise<string> {
  const esbuild = await import('esbuild');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'silent',
    legalComments: 'none',
  } as const;
  await esbuild.build({
    ...common,
    entryPoints: [join(ROOT, 'provider', 'main.ts')],
    outfile: join(dir, BUNDLE),
    plugins: [await precompiledProtos(), separateService],
  });
  await esbuild.build({
    ...common,
    entryPoints: [join(ROOT, 'provider', 'provider-service.ts')],
    outfile: join(dir, SERVICE_BUNDLE),
  });
  await esbuild.build({ ...common, entryPoints: [join(ROOT, 'provider', 'start.ts')], outfile: join(dir, ENTRY) });
  const out = join(dir, BINARY);
  writeFileSync(out, launcher(options.node ?? process.execPath));
  chmodSync(out, 0o755);
  await writeCodeCaches(out);
  return out;
}

/**
 * Starts the installed provider once as Terraform would, in the mode where start.cjs writes the V8 code caches of
 * both bundles and stops. Without them (no Node.js to run, a failure) the provider works the same, only slower.
 */
async function writeCodeCaches(launcherPath: string): Promise<void> {
  const { makePluginCertificate } = require('./certificate') as typeof import('./certificate'); // as above
  const child = spawn(launcherPath, [], {
    env: {
      ...process.env,
      PORTICO_WRITE_CODE_CACHE: '1',
      [MAGIC_COOKIE_KEY]: MAGIC_COOKIE_VALUE,
      PLUGIN_PROTOCOL_VERSIONS: '6',
      PLUGIN_CLIENT_CERT: makePluginCertificate().certPem,
    },
    stdio: 'ignore',
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await new Promise((resolve) => child.on('close', resolve).on('error', resolve));
  clearTimeout(timer);
}

/** A single-quoted sh word. */
const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The executable: plain sh (no other command needed, so it works with any PATH). Without Node it explains itself on
 * stderr, and on stdout too when Terraform runs it, since go-plugin shows an unexpected stdout line in its error.
 */
function launcher(node: string): string {
  const message =
    `${BINARY}: cannot start: it runs on Node.js 20 or later, and neither the Node.js it was installed with ` +
    `(${node}) nor a \`node\` on PATH was found. Install Node.js or add it to PATH, then run ` +
    '`npx portico provider install` again.';
  return `#!/bin/sh
# ${BINARY} ${PROVIDER_VERSION}: runs the bundled provider (${ENTRY}, beside this file) on Node.js.
case "$0" in */*) here="\${0%/*}" ;; *) here=. ;; esac
if [ -x ${shQuote(node)} ]; then exec ${shQuote(node)} "$here/${ENTRY}" "$@"; fi
if command -v node >/dev/null 2>&1; then exec node "$here/${ENTRY}" "$@"; fi
message=${shQuote(message)}
echo "$message" >&2
if [ -n "$${MAGIC_COOKIE_KEY}" ]; then echo "$message"; fi
exit 127
`;
}

/** Installs into Terraform's implied local mirror, so `terraform init` finds portico/portico with no network. */
export async function installToMirror(home = homedir()): Promise<string> {
  const dir = join(
    home,
    '.terraform.d',
    'plugins',
    'registry.terraform.io',
    'portico',
    'portico',
    PROVIDER_VERSION,
    platform(),
  );
  await buildProvider(dir);
  return dir;
}

/** Builds into a folder and writes a CLI config with `dev_overrides` for portico/portico pointing at it. */
export async function installDev(home = homedir()): Promise<{ dir: string; config: string }> {
  const dir = join(home, '.terraform.d', 'portico-dev');
  await buildProvider(dir);
  const config = join(dir, 'dev.tfrc');
  writeFileSync(
    config,
    `provider_installation {\n  dev_overrides {\n    "portico/portico" = "${dir}"\n  }\n  direct {}\n}\n`,
  );
  return { dir, config };
}

/** The HCL `npx portico provider install` prints: a complete block that parses and validates as written. */
export const INSTALL_HINT_HCL = `terraform {
  required_providers {
    portico = {
      source = "portico/portico"
    }
  }
}
`;

import { chmodSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
export const PROVIDER_VERSION: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
export const BINARY = 'terraform-provider-portico';

/** Terraform's platform name for this machine (`linux_amd64`). */
export function platform(): string {
  const arch = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm' }[process.arch as string] ?? process.arch;
  return `${process.platform}_${arch}`;
}

/**
 * Bundles the provider into `dir`: one executable JavaScript file (every dependency inside; it needs only Node on
 * PATH) and the .proto files it loads beside it.
 */
export async function buildProvider(dir: string): Promise<string> {
  const esbuild = await import('esbuild');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const out = join(dir, BINARY);
  await esbuild.build({
    entryPoints: [join(ROOT, 'provider', 'main.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'silent',
    legalComments: 'none',
  });
  chmodSync(out, 0o755);
  cpSync(join(ROOT, 'provider', 'proto'), join(dir, 'proto'), { recursive: true });
  return out;
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
